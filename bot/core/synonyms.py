"""Synonyms for job matching: every term folded (`bot.core.normalize.fold`) and mapped through
`config/synonyms.toml` to one canonical spelling, so "JS" meets "JavaScript" and 「セールス」
meets 「営業」."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from bot.core.normalize import fold


@dataclass(frozen=True)
class Synonyms:
    whole: dict[str, str]  # folded spelling → folded canonical spelling
    inner: re.Pattern[str] | None  # spellings worth replacing inside a longer title

    def canonical(self, text: str) -> str:
        """A skill, department or place: the whole term, or nothing."""
        folded = fold(text)
        return self.whole.get(folded, folded)

    def canonical_text(self, text: str) -> str:
        """A title or a desired role: known terms inside it too (「セールスマネージャー」)."""
        folded = fold(text)
        if folded in self.whole or self.inner is None:
            return self.whole.get(folded, folded)
        return self.inner.sub(lambda m: self.whole[m.group(0)], folded)


def parse_synonyms(data: dict[str, Any]) -> Synonyms:
    whole: dict[str, str] = {}
    for key, variants in data.get("terms", {}).items():
        canon = fold(key)
        for spelling in [key, *variants]:
            folded = fold(spelling)
            if whole.get(folded, canon) != canon:
                raise ValueError(f"synonyms: {spelling!r} is listed under two terms")
            whole[folded] = canon
    # Inside a longer text only distinctive spellings are replaced: "ts" is in "tests".
    inner = sorted(
        (s for s, c in whole.items() if s != c and (len(s) >= 4 or not s.isascii())),
        key=len,
        reverse=True,
    )
    pattern = re.compile("|".join(map(re.escape, inner))) if inner else None
    return Synonyms(whole, pattern)


@lru_cache(maxsize=1)
def synonyms() -> Synonyms:
    """The packaged table, read once per process."""
    with resources.files("config").joinpath("synonyms.toml").open("rb") as f:
        return parse_synonyms(tomllib.load(f))
