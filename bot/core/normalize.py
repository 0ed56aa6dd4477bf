"""Japanese-aware folding of names and skills before fuzzy matching (docs/architecture.md,
rapidfuzz).

rapidfuzz does no preprocessing since 3.0, and Japanese needs more than lower-casing: NFKC
(full-width → half-width, compatibility forms), case folding, katakana → hiragana, no `・`,
spaces or middle dots, and one form of each variant kanji (髙/高, 﨑/崎, 齋/斉…; the table and
where it comes from are in bot/core/variants.py), so that
「髙橋　ハナコ」, 「高橋花子」's reading and "Takahashi" meet where they should."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import jaconv

from bot.core.variants import VARIANT_KANJI

DROPPED = str.maketrans({c: None for c in " \t\n・･·.-_　'’"})


def _fold_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = jaconv.kata2hira(text.translate(VARIANT_KANJI))
    return text.translate(DROPPED)


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """The matching form of a name, skill or title. Idempotent: folding is repeated until it
    changes nothing (dropping a space can let a combining mark join the letter before it)."""
    for _ in range(4):
        folded = _fold_once(text)
        if folded == text:
            break
        text = folded
    return text


def tidy(text: str) -> str:
    """The stored form of a typed label (a skill, a department): NFKC, so that what a Japanese
    keyboard types full-width (Ｐｙｔｈｏｎ, ＩＴ部) or half-width (ｴﾝｼﾞﾆｱ) is stored as everyone
    else types it, and runs of spaces (full-width ones too) collapsed to one."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def distinct_items(items: Iterable[str]) -> list[str]:
    """Tidied items in the order given, empty ones and repeats (by `fold`) left out."""
    found: dict[str, str] = {}
    for raw in items:
        item = tidy(raw)
        if item:
            found.setdefault(fold(item) or item, item)
    return list(found.values())


MAX_ID = 2**31 - 1  # the largest id a table's integer key holds


def whole(text: str) -> int | None:
    """A count or an offset: `0`, `12`, full-width `１２` (NFKC); None for anything else (an
    int() of what str.isdigit() accepts can fail: `²`)."""
    text = unicodedata.normalize("NFKC", text).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None


def number(text: str) -> int | None:
    """The id a person typed or a button carries: `12`, `#12`, full-width `１２`, circled `⑫`
    (NFKC makes them all `12`); None for anything else, a `²` or a number no id can be (a huge
    one would fail in the database)."""
    value = whole(unicodedata.normalize("NFKC", text).strip().removeprefix("#"))
    return value if value is not None and 0 < value <= MAX_ID else None
