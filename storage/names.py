"""Finding a person by a name typed in chat: Japanese-aware and fast among 100,000 people.

The caller's own former colleagues and managers are searched first. Among everyone, a full fuzzy
scan costs 0.1–0.45 s per query at 100,000 people (docs/architecture.md), so each process keeps a
bigram index of folded names and readings, and scores only the people who share bigrams with the
query. The index is rebuilt when `people.updated_at` moves (indexed), so a new or renamed person is
found on the next lookup."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from rapidfuzz import fuzz, process
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.normalize import fold
from storage.models import Person, Relation

CUTOFF = 72.0
CLEAR_LEAD = 8.0  # a best match this far ahead of the next is not ambiguous
MAX_CANDIDATES = 3000


@dataclass(frozen=True)
class Found:
    person_id: int
    name: str
    score: float


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} if len(text) > 1 else {text}


@dataclass
class NameIndex:
    version: tuple[datetime | None, int | None]
    ids: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # folded name, or reading, per entry
    postings: dict[str, list[int]] = field(default_factory=dict)

    def add(self, person_id: int, name: str, key: str) -> None:
        position = len(self.keys)
        self.ids.append(person_id)
        self.names.append(name)
        self.keys.append(key)
        for gram in bigrams(key):
            self.postings.setdefault(gram, []).append(position)

    def candidates(self, query: str) -> list[int]:
        shared: Counter[int] = Counter()
        for gram in bigrams(query):
            shared.update(self.postings.get(gram, ()))
        return [pos for pos, _ in shared.most_common(MAX_CANDIDATES)]


_indexes: dict[str, NameIndex] = {}


async def _version(session: AsyncSession) -> tuple[datetime | None, int | None]:
    row = (await session.execute(select(func.max(Person.updated_at), func.max(Person.id)))).one()
    return row[0], row[1]


async def _index(session: AsyncSession) -> NameIndex:
    bind = session.get_bind()
    key = str(bind.engine.url)
    version = await _version(session)
    index = _indexes.get(key)
    if index is not None and index.version == version:
        return index
    index = NameIndex(version)
    rows = await session.execute(
        select(Person.id, Person.name, Person.name_kana).where(Person.forgotten_at.is_(None))
    )
    for pid, name, kana in rows:
        index.add(pid, name, fold(name))
        if kana:
            index.add(pid, name, fold(kana))
    _indexes[key] = index
    return index


def _best(query: str, entries: list[tuple[int, str, str]]) -> list[Found]:
    """Score (id, name, key) entries; one Found per person, best first."""
    if not entries:
        return []
    scored = process.extract(
        query, [e[2] for e in entries], scorer=fuzz.WRatio, score_cutoff=CUTOFF, limit=50
    )
    best: dict[int, Found] = {}
    for _, score, position in scored:
        pid, name, _ = entries[position]
        if pid not in best or best[pid].score < score:
            best[pid] = Found(pid, name, float(score))
    return sorted(best.values(), key=lambda f: (-f.score, f.name))


async def related_ids(session: AsyncSession, person_id: int) -> set[int]:
    rows = await session.execute(
        select(Relation.person_id, Relation.other_id).where(
            or_(Relation.person_id == person_id, Relation.other_id == person_id)
        )
    )
    return {a if b == person_id else b for a, b in rows} - {person_id}


async def lookup(session: AsyncSession, text: str, caller_id: int) -> list[Found]:
    """People whose name or reading matches `text`: one clear match, several to choose from,
    or none. The caller's own relations win over everyone else."""
    query = fold(text)
    if len(query) < 2:
        return []
    related = await related_ids(session, caller_id)
    if related:
        rows = await session.execute(
            select(Person.id, Person.name, Person.name_kana).where(
                Person.id.in_(related), Person.forgotten_at.is_(None)
            )
        )
        entries = [(pid, name, fold(k)) for pid, name, kana in rows for k in (name, kana) if k]
        found = _best(query, entries)
        if found:
            return _clear(found)
    index = await _index(session)
    positions = index.candidates(query)
    entries = [
        (index.ids[p], index.names[p], index.keys[p])
        for p in positions
        if index.ids[p] != caller_id
    ]
    return _clear(_best(query, entries))


def _clear(found: list[Found]) -> list[Found]:
    """The best match alone when it is clearly ahead; else the close ones (at most five)."""
    if not found:
        return []
    top = found[0].score
    if len(found) == 1 or top - found[1].score >= CLEAR_LEAD:
        return found[:1]
    return [f for f in found if top - f.score < CLEAR_LEAD][:5]
