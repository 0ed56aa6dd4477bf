"""Text measured as Telegram and LINE measure it: UTF-16 code units (an emoji counts 2), and
long text split into pieces within a platform's limit, at line breaks where possible."""

from __future__ import annotations

from collections.abc import Iterator


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: never under `len()`."""
    return len(text.encode("utf-16-le")) // 2


def _hard_cut(row: str, limit: int) -> Iterator[str]:
    """Pieces of one overlong row of text within `limit` each, cut at the last space if any."""
    while utf16_len(row) > limit:
        size, end = 0, 0
        for i, ch in enumerate(row):
            size += 2 if ord(ch) > 0xFFFF else 1
            if size > limit:
                end = i
                break
        space = row.rfind(" ", 0, end)
        cut = space + 1 if space > end // 2 else end
        yield row[:cut]
        row = row[cut:]
    if row:
        yield row


def split_text(text: str, limit: int) -> list[str]:
    """Pieces within `limit`, split at line breaks where possible; blank pieces are dropped."""
    if utf16_len(text) <= limit:
        return [text] if text.strip() else []
    chunks: list[str] = []
    current, size = "", 0
    for row in text.splitlines(keepends=True):
        for piece in _hard_cut(row, limit):
            piece_size = utf16_len(piece)
            if current and size + piece_size > limit:
                chunks.append(current)
                current, size = "", 0
            current += piece
            size += piece_size
    if current:
        chunks.append(current)
    return [c.rstrip("\n") for c in chunks if c.strip()]
