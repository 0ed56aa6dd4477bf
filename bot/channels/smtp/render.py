"""A `Reply` as a mail: multipart text and HTML from the package's Jinja2 templates, with the
headers of RFC 8058 one-click unsubscribe. The words are the handler's (from the catalogs, in
the person's language); the templates give only the shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from jinja2 import Environment, PackageLoader, select_autoescape

from bot.core import markup
from bot.core.types import Reply

URL = re.compile(r"https?://[^\s<>\"')]+")
# Lines as long as SMTP allows: the unsubscribe header stays on one line for simple readers.
POLICY = policy.SMTP.clone(max_line_length=998)
TEMPLATES = Environment(
    loader=PackageLoader("bot.channels.smtp", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Piece:
    text: str
    url: bool = False
    bold: bool = False


def pieces(line: str) -> list[Piece]:
    """One line of text as pieces to render: plain, bold and links."""
    found: list[Piece] = []
    for text, bold in markup.spans(line):
        last = 0
        for match in URL.finditer(text):
            if match.start() > last:
                found.append(Piece(text[last : match.start()], bold=bold))
            found.append(Piece(match.group(0), url=True))
            last = match.end()
        if last < len(text):
            found.append(Piece(text[last:], bold=bold))
    return found


def paragraphs(text: str) -> list[list[list[Piece]]]:
    """Paragraphs (split at blank lines) of lines of pieces."""
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    return [[pieces(line) for line in block.splitlines()] for block in blocks]


def subject_of(reply: Reply) -> str:
    if reply.subject:
        return reply.subject
    first = markup.plain(reply.text).strip().splitlines()
    return (first[0] if first else "")[:150]


def build(reply: Reply, *, sender: str, to: str, unsubscribe_url: str | None) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject_of(reply)
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    blocks = paragraphs(reply.text)
    context = {"subject": message["Subject"], "paragraphs": blocks}
    text = TEMPLATES.get_template("mail.txt").render(text=markup.plain(reply.text).strip())
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(
        TEMPLATES.get_template("mail.html").render(**context),
        subtype="html",
        cte="quoted-printable",
    )
    return message
