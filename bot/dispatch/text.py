"""Text as platforms hand it to us, made safe and read once: cleaning (for every channel, at
the dispatcher), command words (full-width, Japanese names through the routes' aliases) and
greetings."""

from __future__ import annotations

import unicodedata
from dataclasses import replace

from bot.core.types import Incoming


def scrub(text: str) -> str:
    """NFC, without what no database or JSON encoder takes: lone surrogates (which a Telegram
    client can send, and which made a person's `mydata` fail) and control characters but
    newlines and tabs (a NUL breaks every PostgreSQL query that carries it)."""
    kept = (ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))
    return unicodedata.normalize("NFC", "".join(kept))


def clean_text(text: str) -> str:
    """`scrub`, and no surrounding blanks."""
    return scrub(text).strip()


def _scrub_optional(text: str | None) -> str | None:
    return None if text is None else scrub(text)


def scrubbed(incoming: Incoming) -> Incoming:
    """Every text a platform handed us, cleaned once at the boundary, for all channels."""
    actor = incoming.actor
    return replace(
        incoming,
        actor=replace(
            actor,
            user_id=scrub(actor.user_id),
            workspace=scrub(actor.workspace),
            display_name=_scrub_optional(actor.display_name),
            locale_hint=_scrub_optional(actor.locale_hint),
            verified_email=_scrub_optional(actor.verified_email),
        ),
        text=scrub(incoming.text),
        command=_scrub_optional(incoming.command),
        args=tuple(scrub(a) for a in incoming.args),
        action=_scrub_optional(incoming.action),
        payload=scrub(incoming.payload),
        values={scrub(k): scrub(v) for k, v in incoming.values.items()},
    )  # fmt: skip


def command_word(word: str) -> str:
    """A typed command name as the routes spell it: full-width read as half-width (ｊｏｂｓ,
    ／ｈｅｌｐ), no slash, no @bot, lower case."""
    return unicodedata.normalize("NFKC", word).lstrip("/").split("@")[0].lower()


def split_command(text: str) -> tuple[str, tuple[str, ...]]:
    first, _, rest = text.partition(" ") if " " in text else text.partition("\n")
    return command_word(first), tuple(rest.split())


GREETINGS = frozenset({
    "hi", "hello", "hey", "hiya", "good morning", "こんにちは", "こんばんは", "おはよう",
    "おはようございます", "はじめまして", "やあ", "どうも", "よろしく", "よろしくお願いします",
})  # fmt: skip


def is_greeting(text: str) -> bool:
    """ "hi", "こんにちは！": someone saying hello, who should be greeted, not corrected."""
    plain = unicodedata.normalize("NFKC", text).strip().rstrip("!.?！。？〜~ ").lower()
    return plain in GREETINGS
