"""Job matching: who fits an opening, how well, and why (docs/architecture.md, "rapidfuzz").

Every term — skill, desired role, title, department, place — is folded (`bot.core.normalize.fold`:
NFKC, case, katakana → hiragana, no spaces or `・`, variant kanji) and mapped through
`config/synonyms.toml` to one canonical spelling (bot/core/synonyms.py).

Profiles are indexed: the *vocabulary* of distinct canonical skills (thousands, however many
people there are), each with the people who hold it. An opening's skills are matched against
that vocabulary with one `process.cdist(..., workers=-1)`, and people are scored by the
vocabulary ids they hold — instead of one fuzzy comparison per profile. Titles against desired
roles, departments and locations work the same way. What matched is the reason.

The index is kept, not rebuilt per posting (docs/adr/0005): `put` and `drop` change one
person — their old entry is masked out and a new one appended — so a process keeps one index up
to date with the profiles changed since (storage/job_index.py). Masked entries are never
scored, so the results are those of an index built afresh; `compacted` rebuilds once they
outnumber the live ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from bot.core.settings import MatchingSettings
from bot.core.synonyms import Synonyms as Synonyms
from bot.core.synonyms import parse_synonyms as parse_synonyms
from bot.core.synonyms import synonyms as synonyms
from bot.core.vocab import Grow, Hits, Ids, Scorer, Vocab


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


class ProfileIndex:
    """Profiles by canonical skill, role, department and location; one entry per person, kept up
    to date by `put` and `drop`, matched often."""

    def __init__(self, profiles: Sequence[Profile], table: Synonyms | None = None) -> None:
        self.synonyms = table or synonyms()
        self.profiles: list[Profile] = []  # per entry
        self.entry_of: dict[int, int] = {}  # person id → their live entry
        self.skills, self.roles = Vocab(), Vocab()
        self.departments, self.locations = Vocab(), Vocab()
        self.person_skills: list[tuple[int, ...]] = []
        self.person_roles: list[tuple[int, ...]] = []
        self._department_of, self._location_of = Grow(np.int32, -1), Grow(np.int32, -1)
        self._ids, self._live = Grow(np.int64, 0), Grow(np.bool_, False)
        for p in profiles:
            self.put(p)

    def __len__(self) -> int:
        return len(self.entry_of)

    @property
    def entries(self) -> int:
        return len(self.profiles)

    def put(self, p: Profile) -> None:
        """A person added, or their profile changed (unchanged: nothing to do)."""
        old = self.entry_of.get(p.id)
        if old is not None:
            if self.profiles[old] == p:
                return
            self.drop(p.id)
        i = len(self.profiles)
        self.profiles.append(p)
        self.entry_of[p.id] = i
        canonical, canonical_text = self.synonyms.canonical, self.synonyms.canonical_text
        terms = {canonical(s) for s in p.skills}
        self.person_skills.append(tuple(self.skills.add(t, i) for t in terms if t))
        roles = {canonical_text(r) for r in p.desired_roles}
        self.person_roles.append(tuple(self.roles.add(r, i) for r in roles if r))
        d = canonical(p.department) if p.department else ""
        self._department_of.append(self.departments.add(d, i) if d else -1)
        loc = canonical(p.location) if p.location else ""
        self._location_of.append(self.locations.add(loc, i) if loc else -1)
        self._ids.append(p.id)
        self._live.append(True)

    def drop(self, person_id: int) -> None:
        """A person who may no longer hear of openings: never matched again (until `put`)."""
        old = self.entry_of.pop(person_id, None)
        if old is not None:
            self._live.data[old] = False

    def compacted(self) -> ProfileIndex:
        """This index, or a fresh one of its live profiles once masked entries outnumber them."""
        if self.entries - len(self) <= max(1000, len(self)):
            return self
        return ProfileIndex(
            [self.profiles[i] for i in sorted(self.entry_of.values())], self.synonyms
        )

    @property
    def ids(self) -> npt.NDArray[np.int64]:
        return self._ids.view

    @property
    def department_of(self) -> Ids:
        return self._department_of.view

    @property
    def location_of(self) -> Ids:
        return self._location_of.view

    def match(
        self, openings: Sequence[Wanted], settings: MatchingSettings, limit: int | None = None
    ) -> dict[int, list[Found]]:
        """The people matching each opening, best first (ties by id), at most `limit` each."""
        s, syn = settings, self.synonyms

        def hits(vocab: Vocab, terms: set[str], scorer: Scorer, cutoff: float) -> Hits:
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
        n, syn = self.entries, self.synonyms
        if not self.entry_of:
            return []
        required = [skill_hits.get(syn.canonical(x), {}) for x in o.skills]
        nice = [skill_hits.get(syn.canonical(x), {}) for x in o.nice_to_have]
        have_required = self._count(required, n)
        have_nice = self._count(nice, n)
        title = np.zeros(n, dtype=np.float32)
        for vid, similar in title_hits.get(syn.canonical_text(o.title), {}).items():
            members = self.roles.posting(vid)
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
        relevant = ((have_required + have_nice > 0) | (title > 0)) & self._live.view
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
        self, vocab: Vocab, of: Ids, hits: Hits, term: str | None
    ) -> npt.NDArray[np.float32]:
        """1 where a person's department (or location) matches `term`, else 0."""
        table = np.zeros(len(vocab.members) + 1, dtype=np.float32)  # the last slot: none (-1)
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
