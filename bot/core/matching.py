"""Job matching: who fits an opening, how well, and why (docs/architecture.md, "rapidfuzz").

Every term — skill, desired role, title, department, place — is folded (`bot.core.normalize.fold`:
NFKC, case, katakana → hiragana, no spaces or `・`, variant kanji) and mapped through
`config/synonyms.toml` to one canonical spelling, so "JS" meets "JavaScript" and 「セールス」
meets 「営業」.

Profiles are indexed once: the *vocabulary* of distinct canonical skills (thousands, however
many people there are), each with the people who hold it. An opening's skills are matched
against that vocabulary with one `process.cdist(..., workers=-1)`, and people are scored by the
vocabulary ids they hold — instead of one fuzzy comparison per profile. Titles against desired
roles, departments and locations work the same way. What matched is the reason."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from bot.core.normalize import fold
from bot.core.settings import MatchingSettings

Scorer = Callable[..., float]
Hits = dict[str, dict[int, float]]  # query term → {vocabulary id: score 0–1}
Ids = npt.NDArray[np.int32]


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


@dataclass(frozen=True)
class Profile:
    id: int
    skills: Sequence[str] = ()
    desired_roles: Sequence[str] = ()
    department: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class Wanted:
    """The side of an opening that matching reads."""

    id: int
    title: str
    skills: Sequence[str]
    nice_to_have: Sequence[str] = ()
    department: str | None = None
    location: str | None = None
    remote: bool = False


@dataclass(frozen=True)
class Found:
    person_id: int
    score: float  # 0–1
    reason: dict[str, Any]  # skills, nice, role, department, location: what matched


@dataclass
class _Vocab:
    ids: dict[str, int] = field(default_factory=dict)
    members: list[list[int]] = field(default_factory=list)
    postings: list[Ids] = field(default_factory=list)

    def add(self, term: str, person: int) -> int:
        vid = self.ids.get(term)
        if vid is None:
            vid = self.ids[term] = len(self.members)
            self.members.append([])
        if not self.members[vid] or self.members[vid][-1] != person:
            self.members[vid].append(person)
        return vid

    def freeze(self) -> None:
        self.postings = [np.fromiter(m, dtype=np.int32, count=len(m)) for m in self.members]
        self.members = []

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
        lists = [self.postings[v] for v in hits]
        if not lists:
            return np.empty(0, dtype=np.int32)
        return lists[0] if len(lists) == 1 else np.unique(np.concatenate(lists))


class ProfileIndex:
    """Profiles by canonical skill, role, department and location; built once, matched often."""

    def __init__(self, profiles: Sequence[Profile], table: Synonyms | None = None) -> None:
        self.synonyms = table or synonyms()
        self.profiles = list(profiles)
        self.skills, self.roles = _Vocab(), _Vocab()
        self.departments, self.locations = _Vocab(), _Vocab()
        self.person_skills: list[tuple[int, ...]] = []
        self.person_roles: list[tuple[int, ...]] = []
        n = len(self.profiles)
        self.department_of = np.full(n, -1, dtype=np.int32)
        self.location_of = np.full(n, -1, dtype=np.int32)
        canonical, canonical_text = self.synonyms.canonical, self.synonyms.canonical_text
        for i, p in enumerate(self.profiles):
            terms = {canonical(s) for s in p.skills}
            self.person_skills.append(tuple(self.skills.add(t, i) for t in terms if t))
            roles = {canonical_text(r) for r in p.desired_roles}
            self.person_roles.append(tuple(self.roles.add(r, i) for r in roles if r))
            if p.department and (d := canonical(p.department)):
                self.department_of[i] = self.departments.add(d, i)
            if p.location and (loc := canonical(p.location)):
                self.location_of[i] = self.locations.add(loc, i)
        for vocab in (self.skills, self.roles, self.departments, self.locations):
            vocab.freeze()
        self.ids = np.fromiter((p.id for p in self.profiles), dtype=np.int64, count=n)

    def __len__(self) -> int:
        return len(self.profiles)

    def match(
        self, openings: Sequence[Wanted], settings: MatchingSettings, limit: int | None = None
    ) -> dict[int, list[Found]]:
        """The people matching each opening, best first (ties by id), at most `limit` each."""
        s, syn = settings, self.synonyms

        def hits(vocab: _Vocab, terms: set[str], scorer: Scorer, cutoff: float) -> Hits:
            """{term: its hits} for the distinct non-empty terms of this batch of openings."""
            queries = sorted(terms - {""})
            found = vocab.hits(queries, scorer, cutoff, s.min_query_chars)
            return dict(zip(queries, found, strict=True))

        skills = {syn.canonical(x) for o in openings for x in _skills(o)}
        skill_hits = hits(self.skills, skills, fuzz.ratio, s.skill_cutoff)
        titles = {syn.canonical_text(o.title) for o in openings}
        title_hits = hits(self.roles, titles, fuzz.WRatio, s.title_cutoff)
        departments = {syn.canonical(o.department or "") for o in openings}
        dept_hits = hits(self.departments, departments, fuzz.ratio, s.place_cutoff)
        locations = {syn.canonical(o.location or "") for o in openings}
        loc_hits = hits(self.locations, locations, fuzz.ratio, s.place_cutoff)
        return {
            o.id: self._one(o, s, limit, skill_hits, title_hits, dept_hits, loc_hits)
            for o in openings
        }

    def _one(
        self,
        o: Wanted,
        s: MatchingSettings,
        limit: int | None,
        skill_hits: Hits,
        title_hits: Hits,
        dept_hits: Hits,
        loc_hits: Hits,
    ) -> list[Found]:
        n, syn = len(self.profiles), self.synonyms
        if n == 0:
            return []
        required = [skill_hits.get(syn.canonical(x), {}) for x in o.skills]
        nice = [skill_hits.get(syn.canonical(x), {}) for x in o.nice_to_have]
        have_required = self._count(required, n)
        have_nice = self._count(nice, n)
        title = np.zeros(n, dtype=np.float32)
        for vid, similar in title_hits.get(syn.canonical_text(o.title), {}).items():
            members = self.roles.postings[vid]
            title[members] = np.maximum(title[members], similar)
        total = np.zeros(n, dtype=np.float32)
        weight: float = 0.0
        if required:
            total += s.required_weight * have_required / len(required)
            weight += s.required_weight
        if nice:
            total += s.nice_weight * have_nice / len(nice)
            weight += s.nice_weight
        total += s.title_weight * title
        weight += s.title_weight
        in_dept = self._place(self.departments, self.department_of, dept_hits, o.department)
        if o.department:
            total += s.department_weight * in_dept
            weight += s.department_weight
        near = self._place(
            self.locations, self.location_of, loc_hits, None if o.remote else o.location
        )
        if o.location and not o.remote:
            total += s.location_weight * near
            weight += s.location_weight
        if weight <= 0:
            return []
        score = (total / weight).astype(np.float32)
        # A department or a town alone is no reason to suggest a job: some skill or role must fit.
        relevant = (have_required + have_nice > 0) | (title > 0)
        chosen = np.nonzero(relevant & (score >= max(s.min_score, 1e-6)))[0]
        if limit is not None and len(chosen) > limit:
            # Only the best `limit` (and whoever ties with the last of them) need sorting.
            kth = np.partition(score[chosen], len(chosen) - limit)[len(chosen) - limit]
            chosen = chosen[score[chosen] >= kth]
        order = chosen[np.lexsort((self.ids[chosen], -score[chosen]))][:limit]
        return [
            Found(
                self.profiles[i].id,
                round(float(score[i]), 4),
                self._reason(int(i), o, required, nice, title_hits, in_dept, near),
            )
            for i in order
        ]

    def _count(self, wanted: list[dict[int, float]], n: int) -> npt.NDArray[np.float32]:
        counts = np.zeros(n, dtype=np.float32)
        for hits in wanted:
            counts[self.skills.people(hits)] += 1
        return counts

    def _place(
        self, vocab: _Vocab, of: Ids, hits: Hits, term: str | None
    ) -> npt.NDArray[np.float32]:
        """1 where a person's department (or location) matches `term`, else 0."""
        table = np.zeros(len(vocab.postings) + 1, dtype=np.float32)  # the last slot: none (-1)
        if term:
            table[list(hits.get(self.synonyms.canonical(term), {}))] = 1.0
        return table[of]

    def _reason(
        self,
        i: int,
        o: Wanted,
        required: list[dict[int, float]],
        nice: list[dict[int, float]],
        title_hits: Hits,
        in_dept: npt.NDArray[np.float32],
        near: npt.NDArray[np.float32],
    ) -> dict[str, Any]:
        mine, p = set(self.person_skills[i]), self.profiles[i]
        role_scores = title_hits.get(self.synonyms.canonical_text(o.title), {})
        roles = {self.synonyms.canonical_text(r): r for r in p.desired_roles}
        best_role = max(
            (r for r in roles if self.roles.ids.get(r) in role_scores),
            key=lambda r: role_scores[self.roles.ids[r]],
            default=None,
        )
        return {
            "skills": [x for x, h in zip(o.skills, required, strict=True) if mine & h.keys()],
            "nice": [x for x, h in zip(o.nice_to_have, nice, strict=True) if mine & h.keys()],
            "role": roles[best_role] if best_role else None,
            "department": p.department if in_dept[i] else None,
            "location": p.location if near[i] else None,
        }


def _skills(o: Wanted) -> list[str]:
    return [*o.skills, *o.nice_to_have]


def match_one(
    profile: Profile, openings: Sequence[Wanted], settings: MatchingSettings
) -> dict[int, Found]:
    """One person against many openings (browsing `jobs`): {opening id: match}."""
    index = ProfileIndex([profile])
    return {oid: found[0] for oid, found in index.match(openings, settings).items() if found}
