"""`Reply` → what the Telegram Bot API accepts: text chunks with bold entities, an inline keyboard
whose `callback_data` are opaque tokens, and an optional photo or document.

Pure functions (no network, no database): the channel issues the tokens first and passes them
in, so the limits below can be checked exhaustively by property tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity

from bot.core import markup
from bot.core.types import Attachment, Reply
from bot.core.utf16 import split_text, utf16_len

MAX_TEXT = 4096  # sendMessage text, after entities are parsed
MAX_CAPTION = 1024  # sendPhoto / sendDocument caption
MAX_CALLBACK_DATA = 64  # bytes, not characters: about 21 Japanese characters
MAX_LABEL = 64  # Telegram cuts long labels anyway; keep keyboards readable
EMPTY_TEXT = "…"  # Telegram refuses an empty message; a keyboard still needs one


@dataclass(frozen=True)
class Chunk:
    text: str
    entities: tuple[MessageEntity, ...] = ()


@dataclass(frozen=True)
class Rendered:
    """One reply as Telegram messages: the keyboard goes on the last chunk (or the file)."""

    chunks: tuple[Chunk, ...]
    keyboard: InlineKeyboardMarkup | None
    attachment: Attachment | None
    caption: Chunk | None  # the text, when it fits under the file as its caption


def to_chunk(text: str) -> Chunk:
    """Bold spans become bold entities; the rest is plain text, every `*` a person typed kept."""
    parts: list[str] = []
    entities: list[MessageEntity] = []
    offset = 0
    for piece, is_bold in markup.spans(text):
        size = utf16_len(piece)
        if is_bold:
            entities.append(MessageEntity(MessageEntity.BOLD, offset, size))
        parts.append(piece)
        offset += size
    return Chunk("".join(parts), tuple(entities))


def label(text: str) -> str:
    one_line = " ".join(text.split())
    if len(one_line) > MAX_LABEL:
        one_line = one_line[: MAX_LABEL - 1] + "…"
    return one_line or "·"


def keyboard(reply: Reply, tokens: Mapping[tuple[str, str], str]) -> InlineKeyboardMarkup | None:
    """Inline keyboard rows; each button's callback_data is the token issued for it."""
    rows = [
        [
            InlineKeyboardButton(label(b.label), callback_data=tokens[(b.action, b.payload)])
            for b in row
        ]
        for row in reply.buttons
        if row
    ]
    for row in rows:
        for button in row:
            data = button.callback_data
            if not isinstance(data, str) or len(data.encode()) > MAX_CALLBACK_DATA:
                raise ValueError(f"callback_data over {MAX_CALLBACK_DATA} bytes: {data!r}")
    return InlineKeyboardMarkup(rows) if rows else None


def button_keys(reply: Reply) -> list[tuple[str, str]]:
    return [(b.action, b.payload) for b in reply.all_buttons()]


def render(reply: Reply, tokens: Mapping[tuple[str, str], str]) -> Rendered:
    kb = keyboard(reply, tokens)
    attachment = reply.attachment
    whole = to_chunk(reply.text)
    if attachment is not None and utf16_len(whole.text) <= MAX_CAPTION:
        caption = whole if whole.text.strip() else None
        return Rendered((), kb, attachment, caption)
    # A piece of nothing but bold markers is blank once they are read: Telegram refuses it.
    pieces = (to_chunk(piece) for piece in split_text(reply.text, MAX_TEXT))
    chunks = tuple(c for c in pieces if c.text.strip())
    if not chunks and attachment is None and kb is not None:
        chunks = (Chunk(EMPTY_TEXT),)
    return Rendered(chunks, kb, attachment, None)
