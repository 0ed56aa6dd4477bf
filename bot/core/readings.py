"""How a person's name may be typed: kanji, kana, romaji, family name first or last, one part of
it, with an honorific or a title after it.

`name_keys` lists the spellings that count as *the* name (matched exactly, after `fold`), and
`query_keys` what someone typed, in the same forms. The reading is `name_kana` when HR imported
one, else pykakasi's reading of the kanji. Romaji is Hepburn, written in one key per spelling
family: long vowels (ou, oo, ō, oh; uu, ū; ei, ee, ē) and Hepburn's m before b/m/p are folded,
so "Satou", "Sato", "Satoh", "Satō" and 「さとう」's romaji are one key, and so are "Homma" and
"Honma"."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import jaconv
import pykakasi

from bot.core.normalize import fold
from bot.core.variants import VARIANT_KANJI

# After a name, these say who, not which: 「佐藤さん」, 「山田部長」, "Sato-san". Longest first.
HONORIFICS = sorted(
    ("さん", "さま", "様", "君", "くん", "ちゃん", "殿", "氏", "先輩", "先生", "部長", "課長",
     "係長", "社長", "副社長", "会長", "専務", "常務", "次長", "室長", "所長", "店長", "主任"),
    key=len,
    reverse=True,
)  # fmt: skip
# Not "chan" or "shi": Chan and Shi are family names.
LATIN_HONORIFICS = {"san", "sama", "kun", "sensei", "senpai", "sempai", "dono"}
PART_SPLIT = re.compile(r"[\s・･·]+")
SEPARATORS = frozenset("・･·")
LATIN = re.compile(r"[a-z]+")


def parts(text: str) -> list[str]:
    """A name's parts as written: 「山田 花子」 → 山田, 花子; "Emma Brown" → Emma, Brown."""
    if unicodedata.is_normalized("NFKC", text) and not SEPARATORS.intersection(text):
        return text.split()  # the usual case, and the fast one (the index splits every name)
    return [p for p in PART_SPLIT.split(unicodedata.normalize("NFKC", text).strip()) if p]


def strip_honorifics(text: str) -> str:
    """A typed name without what follows it to be polite: 「佐藤さん」 → 佐藤, 「山田部長」 →
    山田, "Sato-san" → Sato, "Sato san" → Sato. A name that is nothing but one stays."""
    kept: list[str] = []
    for word in parts(text):
        stem, _, suffix = word.rpartition("-")
        if stem and suffix.casefold() in LATIN_HONORIFICS:
            word = stem
        if kept and (word.casefold() in LATIN_HONORIFICS or jaconv.kata2hira(word) in HONORIFICS):
            continue  # "Sato san", 「佐藤 様」
        changed = True
        while changed:
            changed = False
            hira = jaconv.kata2hira(word)
            for suffix in HONORIFICS:
                if hira.endswith(suffix) and len(word) > len(suffix):
                    word, changed = word[: -len(suffix)], True
                    break
        kept.append(word)
    return " ".join(kept)


@lru_cache(maxsize=1)
def _kakasi() -> pykakasi.kakasi:
    return pykakasi.kakasi()  # type: ignore[no-untyped-call]  # pykakasi has no hints


@lru_cache(maxsize=65536)
def _convert(part: str) -> tuple[str, str]:
    """(hiragana, Hepburn) of one part of a name; its variant kanji unified first (pykakasi
    knows 高 but not 髙, 吉 but not 𠮷)."""
    items = _kakasi().convert(unicodedata.normalize("NFKC", part).translate(VARIANT_KANJI))
    return "".join(i["hira"] for i in items), "".join(i["hepburn"] for i in items)


def reading(part: str) -> str:
    """The hiragana reading of a part of a name (pykakasi's guess for kanji)."""
    return _convert(part)[0]


def hepburn(part: str) -> str:
    return _convert(part)[1]


def is_latin(text: str) -> bool:
    return bool(text) and all(LATIN.fullmatch(p) for p in map(_ascii, parts(text)))


def _ascii(text: str) -> str:
    """Latin letters without their accents (ō → o), lower case, nothing else."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isascii() and c.isalpha())


_LONG = ((re.compile(r"ou|oo"), "o"), (re.compile(r"uu"), "u"), (re.compile(r"ei|ee"), "e"),
         (re.compile(r"aa"), "a"), (re.compile(r"ii"), "i"))  # fmt: skip
_OH = re.compile(r"oh(?![aeiouy])")  # passport style: Ohno, Satoh
_M = re.compile(r"m(?=[bmp])")  # Hepburn's Homma, Shimbashi: ん before b, m, p


@lru_cache(maxsize=65536)
def romaji_key(text: str) -> str:
    """One key for every usual romanisation of the same sounds."""
    key = _OH.sub("o", _ascii(text))
    key = _M.sub("n", key)
    for _ in range(3):
        before = key
        for pattern, short in _LONG:
            key = pattern.sub(short, key)
        if key == before:
            break
    return key


class NameKeys(NamedTuple):
    exact: frozenset[str]  # the whole name (either order), each part, in every script
    fuzzy: tuple[str, ...]  # the whole name as written and as read, for close matches


@lru_cache(maxsize=65536)
def _written(part: str) -> tuple[str, str, str]:
    """(folded, folded reading, romaji key) of a part of a name as written. A Latin part is its
    own romaji and has no reading; a kanji part is read by pykakasi."""
    if is_latin(part):
        return fold(part), "", romaji_key(part)
    read = fold(reading(part))
    return fold(part), read, romaji_key(hepburn(read)) if read else ""


@lru_cache(maxsize=65536)
def _read(part: str) -> tuple[str, str]:
    """(folded, romaji key) of a part of a reading (name_kana)."""
    return fold(part), romaji_key(hepburn(part))


def _reading_parts(written: list[str], kana: str) -> list[str]:
    read = parts(kana)
    if len(read) == 1 and len(written) == 2:
        # 「山田 花子」 read 「やまだはなこ」: split where the family name's reading ends.
        whole, family = fold(read[0]), _written(written[0])[1]
        if family and whole.startswith(family) and len(whole) > len(family):
            return [whole[: len(family)], whole[len(family) :]]
    return read


def name_keys(name: str, kana: str | None) -> NameKeys:
    written = parts(name)
    read_parts = parts(kana) if kana else None
    if len(written) == 2 and (read_parts is None or len(read_parts) == 2):
        return _two_parts(written, read_parts)
    return _any_parts(written, kana)


def _two_parts(written: list[str], kana: list[str] | None) -> NameKeys:
    """`_any_parts` for the usual name, family and given (a third of an index build's time)."""
    (f1, r1, m1), (f2, r2, m2) = _written(written[0]), _written(written[1])
    if kana is not None:
        (r1, m1), (r2, m2) = _read(kana[0]), _read(kana[1])
    exact = {f1 + f2, f2 + f1, f1, f2}
    fuzzy = [f1 + f2]
    if r1 or r2:
        exact.update((r1 + r2, r1, r2))
        fuzzy.append(r1 + r2)
    if m1 or m2:
        exact.update((m1 + m2, m2 + m1, m1, m2))
    exact.discard("")
    return NameKeys(frozenset(exact), tuple(dict.fromkeys(k for k in fuzzy if k)))


def _any_parts(written: list[str], kana: str | None) -> NameKeys:
    keys = [_written(p) for p in written]
    folded = [k[0] for k in keys]
    if kana:
        read_keys = [_read(p) for p in _reading_parts(written, kana)]
        read, roman = [k[0] for k in read_keys], [k[1] for k in read_keys]
    else:
        read, roman = [k[1] for k in keys if k[1]], [k[2] for k in keys if k[2]]
    # Either order counts as the whole name in romaji and Latin letters ("Hanako Yamada", "Smith
    # Emma"). Close matches (a typo, a name cut short) are scored against the name as written and
    # its reading; romaji typed is compared as kana (`fuzzy_queries`).
    wholes = ["".join(g) for g in (folded, read, roman) if g]
    flipped = "".join(reversed(roman)), "".join(reversed(folded))
    exact = {*wholes, *flipped, *folded, *read, *roman}
    exact.discard("")
    return NameKeys(frozenset(exact), tuple(dict.fromkeys(wholes[:2] if read else wholes[:1])))


def fuzzy_queries(text: str) -> tuple[str, ...]:
    """What was typed, as `NameKeys.fuzzy` are written: folded, and romaji as kana too."""
    keys = [fold(text)]
    if is_latin(text):
        keys.append(fold(jaconv.alphabet2kana(_ascii(text))))
    return tuple(dict.fromkeys(k for k in keys if k))


def query_keys(text: str) -> tuple[str, ...]:
    """What was typed, in the forms `name_keys` uses: folded, and as a romaji key if Latin (part
    by part, as names are: the "a a" of "Souta Akiyama" is no long vowel)."""
    keys = [fold(text)]
    if is_latin(text):
        keys.append("".join(romaji_key(p) for p in parts(text)))
    return tuple(dict.fromkeys(k for k in keys if k))
