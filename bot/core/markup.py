"""The one piece of markup handlers write: bold around a title, kept apart from what people type.

Templates in the catalogs spell bold as `*Title*`; loading a catalog turns those into two control
characters (`bold`), and handlers wrap a title with `bold()`. What people type never carries
these characters (the dispatcher drops control characters from every incoming text), so an
asterisk a person typed, as in the skills `C*` and `*nix`, is only ever an asterisk: each channel
turns the markers into its own bold (Slack's `*`, Telegram's entities) or drops them (the
console, LINE, mail), and shows every `*` as typed."""

from __future__ import annotations

import re
from collections.abc import Iterator

OPEN, CLOSE = "\x02", "\x03"
_TEMPLATE_BOLD = re.compile(r"\*([^*\n]+)\*")
_SPAN = re.compile(f"{OPEN}([^{OPEN}{CLOSE}]*){CLOSE}")


def bold(text: str) -> str:
    return f"{OPEN}{text}{CLOSE}"


def from_template(message: str) -> str:
    """A catalog message with its `*Title*` spans as bold markers (done once, at load)."""
    return _TEMPLATE_BOLD.sub(lambda m: bold(m.group(1)), message)


def plain(text: str) -> str:
    """The text without bold, for channels and files that show none."""
    return text.replace(OPEN, "").replace(CLOSE, "")


def spans(text: str) -> Iterator[tuple[str, bool]]:
    """The text in pieces, each with whether it is bold; unpaired markers are dropped."""
    last = 0
    for match in _SPAN.finditer(text):
        if match.start() > last:
            yield plain(text[last : match.start()]), False
        if match.group(1):
            yield match.group(1), True
        last = match.end()
    if last < len(text):
        yield plain(text[last:]), False


def mrkdwn(text: str) -> str:
    """Slack's spelling of bold."""
    return text.replace(OPEN, "*").replace(CLOSE, "*")
