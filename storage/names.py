"""Finding a person by a name typed in chat: Japanese-aware, fast among 100,000 people, and never
sure by accident.

A name is *matched* when what was typed is one of the person's exact keys (bot/core/readings.py:
the whole name either way round, one part of it, in kanji, kana or romaji, variant kanji and
honorifics folded away). Only a single matched person is `sure`; a log is recorded without asking
only then. Otherwise close fuzzy matches are offered to choose from — a fuzzy match alone is never
sure, however far ahead it is (`log maeda` once logged Mia Davis that way).

The caller's own former colleagues and managers are searched first. Among everyone, a full fuzzy
scan costs 0.1–0.45 s per query at 100,000 people (docs/architecture.md), so each process keeps a
dictionary of exact keys and a bigram index of whole-name keys, and scores only the people who
share bigrams with the query. The index is rebuilt when `people.updated_at` moves (indexed), so a
new or renamed person is found on the next lookup. Readings of names without `name_kana` come from
pykakasi, cached per part, so building costs little more than folding."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rapidfuzz import fuzz, process
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.readings import fuzzy_queries, name_keys, query_keys, strip_honorifics
from storage.models import Person, Relation

CUTOFF = 72.0
SHORT = 4  # keys shorter than this are compared whole (ratio), not as parts of longer names
# A short query is a part of many longer names ("maeda" scores 72 against "miadavis"): it must
# score higher to be offered at all.
SHORT_CUTOFF, SHORT_QUERY = 80.0, 6
MAX_CANDIDATES = 3000
MAX_CHOICES = 10  # buttons offered at most; the rest are counted ("add the given name")
FUZZY_CHOICES = 5
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Found:
    person_id: int
    name: str
    score: float  # 100: matched exactly


@dataclass(frozen=True)
class Lookup:
    found: list[Found]  # best first: one sure match, or the choices
    sure: bool = False  # exactly one person matched exactly: safe to act on without asking
    more: int = 0  # how many more matched than `found` shows


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} if len(text) > 1 else {text}


@dataclass
class NameIndex:
    version: tuple[datetime | None, int | None]
    ids: list[int] = field(default_factory=list)  # per entry; -1 once replaced
    names: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # a whole-name key per entry
    postings: dict[str, list[int]] = field(default_factory=dict)
    exact: dict[str, list[int]] = field(default_factory=dict)  # key → person ids
    people: dict[int, tuple[str, str | None, list[int]]] = field(default_factory=dict)

    def add(self, person_id: int, name: str, kana: str | None) -> None:
        keys = name_keys(name, kana)
        positions = []
        exact, postings = self.exact, self.postings
        for key in keys.exact:  # (get, not setdefault: no new list per call on 100,000 people)
            ids = exact.get(key)
            if ids is None:
                exact[key] = [person_id]
            else:
                ids.append(person_id)
        for key in keys.fuzzy:
            position = len(self.keys)
            positions.append(position)
            self.ids.append(person_id)
            self.names.append(name)
            self.keys.append(key)
            for gram in bigrams(key):
                posted = postings.get(gram)
                if posted is None:
                    postings[gram] = [position]
                else:
                    posted.append(position)
        self.people[person_id] = (name, kana, positions)

    def replace(self, person_id: int, name: str, kana: str | None, gone: bool) -> None:
        """A person added, renamed or forgotten since the index was built."""
        old = self.people.get(person_id)
        if old is not None and old[:2] == (name, kana) and not gone:
            return
        if old is not None:
            for key in name_keys(old[0], old[1]).exact:
                self.exact[key].remove(person_id)
            for position in old[2]:
                self.ids[position] = -1
            del self.people[person_id]
        if not gone:
            self.add(person_id, name, kana)

    def name_of(self, person_id: int) -> str:
        return self.people[person_id][0]

    def candidates(self, queries: tuple[str, ...]) -> list[int]:
        shared: Counter[int] = Counter()
        for query in queries:
            for gram in bigrams(query):
                shared.update(self.postings.get(gram, ()))
        return [pos for pos, _ in shared.most_common(MAX_CANDIDATES) if self.ids[pos] >= 0]


_indexes: dict[str, NameIndex] = {}


async def _version(session: AsyncSession) -> tuple[datetime | None, int | None]:
    # Two one-aggregate subqueries: each is one index look-up, where SQLite answers one SELECT of
    # both max() with a scan of the whole table (at every name typed).
    newest = select(func.max(Person.updated_at)).scalar_subquery()
    highest = select(func.max(Person.id)).scalar_subquery()
    row = (await session.execute(select(newest, highest))).one()
    return row[0], row[1]


async def _index(session: AsyncSession) -> NameIndex:
    """This process's index, brought up to date: built once, then only the people changed since
    (`updated_at` at or after the last seen, or a higher id) are read again."""
    bind = session.get_bind()
    key = str(bind.engine.url)
    version = await _version(session)
    index = _indexes.get(key)
    if index is not None and index.version == version:
        return index
    columns = (Person.id, Person.name, Person.name_kana, Person.forgotten_at.is_not(None))
    since, last_id = index.version if index is not None else (None, None)
    now_at, now_id = version
    if (
        index is None
        or since is None
        or last_id is None
        or now_at is None
        or now_id is None
        or now_at < since  # time went back (another clock, a restored database): start again
        or now_id < last_id
    ):
        index = NameIndex(version)
        rows = await session.execute(select(*columns[:3]).where(Person.forgotten_at.is_(None)))
        for pid, name, kana in rows:
            index.add(pid, name, kana)
    else:
        # Re-read a margin before the last change too: another process's clock may lag ours.
        rows = await session.execute(
            select(*columns).where(
                or_(Person.updated_at >= since - CLOCK_SKEW, Person.id > last_id)
            )
        )
        for pid, name, kana, gone in rows:
            index.replace(pid, name, kana, bool(gone))
        index.version = version
    _indexes[key] = index
    return index


def _fuzzy(queries: tuple[str, ...], entries: list[tuple[int, str, str]]) -> list[Found]:
    """Score (id, name, key) entries against each form of the query; one Found per person."""
    best: dict[int, Found] = {}
    keys = [e[2] for e in entries]
    for query in queries:
        if len(query) < 2 or not keys:
            continue
        scorer = fuzz.WRatio if len(query) >= SHORT else fuzz.ratio
        cutoff = SHORT_CUTOFF if len(query) < SHORT_QUERY else CUTOFF
        for _, score, position in process.extract(
            query, keys, scorer=scorer, score_cutoff=cutoff, limit=50
        ):
            pid, name, _ = entries[position]
            if pid not in best or best[pid].score < score:
                best[pid] = Found(pid, name, float(score))
    return sorted(best.values(), key=lambda f: (-f.score, f.name, f.person_id))


def _matched(ids: set[int], name_of: Callable[[int], str]) -> Lookup:
    found = sorted((Found(i, name_of(i), 100.0) for i in ids), key=lambda f: (f.name, f.person_id))
    return Lookup(found[:MAX_CHOICES], len(found) == 1, max(0, len(found) - MAX_CHOICES))


async def related_ids(session: AsyncSession, person_id: int) -> set[int]:
    rows = await session.execute(
        select(Relation.person_id, Relation.other_id).where(
            or_(Relation.person_id == person_id, Relation.other_id == person_id)
        )
    )
    return {a if b == person_id else b for a, b in rows} - {person_id}


async def lookup(session: AsyncSession, text: str, caller_id: int) -> Lookup:
    """People whose name matches `text`: one sure match, several to choose from, or none. The
    caller's own relations win over everyone else; an exact match over any fuzzy one."""
    typed = strip_honorifics(text)
    queries, close = query_keys(typed), fuzzy_queries(typed)
    if not queries:
        return Lookup([])
    related = await related_ids(session, caller_id)
    entries: list[tuple[int, str, str]] = []
    if related:
        rows = await session.execute(
            select(Person.id, Person.name, Person.name_kana).where(
                Person.id.in_(related), Person.forgotten_at.is_(None)
            )
        )
        mine: set[int] = set()
        names_of: dict[int, str] = {}
        for pid, name, kana in rows:
            keys = name_keys(name, kana)
            names_of[pid] = name
            if keys.exact.intersection(queries):
                mine.add(pid)
            entries += [(pid, name, k) for k in keys.fuzzy]
        if mine:
            return _matched(mine, names_of.__getitem__)
    index = await _index(session)
    everyone = {pid for q in queries for pid in index.exact.get(q, ())} - {caller_id}
    if everyone:
        if len(everyone) > MAX_CHOICES:  # 「佐藤」 among 100,000: show ten, count the rest
            shown = sorted(everyone, key=lambda i: (index.name_of(i), i))[:MAX_CHOICES]
            page = _matched(set(shown), index.name_of)
            return Lookup(page.found, False, len(everyone) - len(page.found))
        return _matched(everyone, index.name_of)
    entries += [
        (index.ids[p], index.names[p], index.keys[p])
        for p in index.candidates(close)
        if index.ids[p] != caller_id
    ]
    return Lookup(_fuzzy(close, entries)[:FUZZY_CHOICES])
