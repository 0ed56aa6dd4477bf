"""The vocabulary of a `bot.core.matching.ProfileIndex`: distinct canonical terms, the index
entries holding each (appended to as profiles change), and their fuzzy hits for a query."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import process

Scorer = Callable[..., float]
Hits = dict[str, dict[int, float]]  # query term → {vocabulary id: score 0–1}
Ids = npt.NDArray[np.int32]


class Grow:
    """A numpy array appended to in place; its capacity doubles."""

    def __init__(self, dtype: type[np.generic], fill: Any) -> None:
        self.data: npt.NDArray[Any] = np.full(64, fill, dtype=dtype)
        self.fill, self.n = fill, 0

    def append(self, value: Any) -> None:
        if self.n == len(self.data):
            grown = np.full(2 * self.n, self.fill, dtype=self.data.dtype)
            grown[: self.n] = self.data
            self.data = grown
        self.data[self.n] = value
        self.n += 1

    @property
    def view(self) -> npt.NDArray[Any]:
        return self.data[: self.n]


@dataclass
class Vocab:
    ids: dict[str, int] = field(default_factory=dict)
    members: list[array[int]] = field(default_factory=list)  # entries holding each term
    arrays: list[Ids | None] = field(default_factory=list)  # members as numpy, made on demand

    def add(self, term: str, entry: int) -> int:
        vid = self.ids.get(term)
        if vid is None:
            vid = self.ids[term] = len(self.members)
            self.members.append(array("i"))
            self.arrays.append(None)
        members = self.members[vid]
        if not members or members[-1] != entry:
            members.append(entry)
            self.arrays[vid] = None
        return vid

    def posting(self, vid: int) -> Ids:
        found = self.arrays[vid]
        if found is None:
            found = self.arrays[vid] = np.frombuffer(self.members[vid], dtype=np.int32).copy()
        return found

    @property
    def terms(self) -> list[str]:
        return list(self.ids)

    def hits(
        self, queries: Sequence[str], scorer: Scorer, cutoff: float, min_chars: int
    ) -> list[dict[int, float]]:
        """For each query, {vocabulary id: score 0–1} of the terms that match it: one batched
        `cdist` for the queries long enough to compare fuzzily, exact lookups for the rest."""
        found: list[dict[int, float]] = [{} for _ in queries]
        fuzzy = [i for i, q in enumerate(queries) if len(q) >= min_chars]
        if fuzzy and self.ids:
            scores = process.cdist(
                [queries[i] for i in fuzzy],
                self.terms,
                scorer=scorer,
                score_cutoff=cutoff,
                dtype=np.uint8,
                workers=-1,
            )
            rows, cols = np.nonzero(scores)
            for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
                found[fuzzy[row]][col] = float(scores[row, col]) / 100
        for i, query in enumerate(queries):
            exact = self.ids.get(query)
            if exact is not None:
                found[i][exact] = 1.0
        return found

    def people(self, hits: Iterable[int]) -> Ids:
        lists = [self.posting(v) for v in hits]
        if not lists:
            return np.empty(0, dtype=np.int32)
        return lists[0] if len(lists) == 1 else np.unique(np.concatenate(lists))
