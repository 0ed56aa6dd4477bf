"""The per-alumnus table the engagement review's people sections read (issue 9).

One pass over the interaction log builds a temporary table with one row per alumnus in the
segment (`tmp_report_facts`): their former department and title, tenure, join route, leave
reason, months since leaving, how often they met former managers and colleagues in person and
online in the range, and their alumni-consciousness index (the mean of the three pulse items).

Relations: "manager" when the other person was the alumnus's manager; "colleague" for any other
recorded relation (teammates, and people the alumnus managed); "other" for contacts with nobody
related. PostgreSQL builds the table in one statement; SQLite, which joins by nested loops, in
keyed steps (bench/README.md has the figures)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    extract,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Interaction, Person, Relation, SurveyResponse
from storage.reports.filter import Filter
from storage.segments import segment_clause

_meta = MetaData()
FACTS = Table(
    "tmp_report_facts",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("department", String(200)),
    Column("title", String(200)),
    Column("tenure", Integer),  # 0: under 3 years, 1: 3 years or more, NULL: unknown
    Column("join_route", String(20)),
    Column("leave_reason", String(200)),
    Column("months", Integer),  # since leaving, at the end of the range
    Column("m_in", Integer),
    Column("m_on", Integer),
    Column("c_in", Integer),
    Column("c_on", Integer),
    Column("o_all", Integer),
    Column("idx", Float),
    prefixes=["TEMPORARY"],
)
F = FACTS.c
# On SQLite, the steps of the one pass: each with a primary key so the next join is a key lookup.
PAIRS = Table(
    "tmp_report_pairs",
    _meta,
    Column("lo", Integer, primary_key=True),
    Column("hi", Integer, primary_key=True),
    Column("lo_boss", Integer),  # hi was lo's manager
    Column("hi_boss", Integer),  # lo was hi's manager
    prefixes=["TEMPORARY"],
)
COUNTS = Table(
    "tmp_report_counts",
    _meta,
    Column("me", Integer, primary_key=True),
    *(Column(name, Integer) for name in ("m_in", "m_on", "c_in", "c_on", "o_all")),
    prefixes=["TEMPORARY"],
)
TEMPORARY = (PAIRS, COUNTS, FACTS)


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _pairs() -> Any:
    """For each related pair (lo < hi): was hi lo's manager, was lo hi's manager?"""
    r = Relation
    low = case((r.person_id < r.other_id, r.person_id), else_=r.other_id)
    high = case((r.person_id < r.other_id, r.other_id), else_=r.person_id)
    return (
        select(
            low.label("lo"),
            high.label("hi"),
            func.max(case((and_(r.kind == "manager", r.person_id < r.other_id), 1), else_=0)).label(
                "lo_boss"
            ),
            func.max(case((and_(r.kind == "manager", r.person_id > r.other_id), 1), else_=0)).label(
                "hi_boss"
            ),
        )
        .where(r.person_id != r.other_id)
        .group_by(low, high)
    )


def _counts(f: Filter, pairs_source: Any) -> Any:
    """Per person: contacts in the range by relation (m, c, o) and kind."""
    i, pairs = Interaction, pairs_source.c

    def kind_count(kind: str) -> ColumnElement[Any]:
        return func.sum(case((i.kind == kind, 1), else_=0))

    # Count each pair's contacts first: the relation lookup and both sides then work on pairs,
    # not on every contact.
    per_pair = (
        select(i.person_a.label("a"), i.person_b.label("b"),
               kind_count("in_person").label("n_in"), kind_count("online").label("n_on"))
        .where(i.occurred_on >= f.start, i.occurred_on <= f.end)
        .group_by(i.person_a, i.person_b)
        .subquery("per_pair")
    )  # fmt: skip
    related = pairs.lo.is_not(None)
    joined = (
        select(
            per_pair.c.a,
            per_pair.c.b,
            per_pair.c.n_in,
            per_pair.c.n_on,
            case((pairs.lo_boss == 1, "m"), (related, "c"), else_="o").label("ga"),
            case((pairs.hi_boss == 1, "m"), (related, "c"), else_="o").label("gb"),
        )
        .outerjoin(pairs_source, and_(pairs.lo == per_pair.c.a, pairs.hi == per_pair.c.b))
        .cte("contacts")
    )
    j = joined.c
    sides = union_all(
        select(j.a.label("me"), j.ga.label("grp"), j.n_in, j.n_on),
        select(j.b, j.gb, j.n_in, j.n_on),
    ).subquery("sides")

    def n(name: str, group: str, column: Any) -> ColumnElement[Any]:
        return func.sum(case((sides.c.grp == group, column), else_=0)).label(name)

    s = sides.c
    return select(
        s.me, n("m_in", "m", s.n_in), n("m_on", "m", s.n_on), n("c_in", "c", s.n_in),
        n("c_on", "c", s.n_on), n("o_all", "o", s.n_in + s.n_on),
    ).group_by(s.me)  # fmt: skip


def _months(later: Any, earlier: Any) -> Any:
    """Whole months from `earlier` to `later` (dates; NULL if either is)."""
    return (
        (extract("year", later) - extract("year", earlier)) * 12
        + extract("month", later)
        - extract("month", earlier)
        - case((extract("day", later) < extract("day", earlier), 1), else_=0)
    )


def _facts_source(f: Filter, dialect: str, counts: Any) -> Any:
    sr = SurveyResponse
    index = cast(sr.rejoin + sr.keep_in_touch + sr.recommend, Float) / 3
    surveys = (
        select(sr.person_id.label("pid"), func.avg(index).label("idx"))
        .where(sr.answered_at >= f.since, sr.answered_at < f.until)
        .where(sr.rejoin.is_not(None), sr.keep_in_touch.is_not(None), sr.recommend.is_not(None))
        .group_by(sr.person_id)
        .subquery("surveys")
    )
    tenure = _months(Person.left_on, Person.joined_on)
    since_left = (
        (f.end.year - extract("year", Person.left_on)) * 12
        + (f.end.month - extract("month", Person.left_on))
        - case((extract("day", Person.left_on) > f.end.day, 1), else_=0)
    )
    zero = literal(0)
    columns = (
        Person.id,
        Person.department,
        Person.title,
        case((Person.joined_on.is_(None), None), (tenure >= 36, 1), else_=0),
        Person.join_route,
        Person.leave_reason,
        since_left,
        func.coalesce(counts.c.m_in, zero),
        func.coalesce(counts.c.m_on, zero),
        func.coalesce(counts.c.c_in, zero),
        func.coalesce(counts.c.c_on, zero),
        func.coalesce(counts.c.o_all, zero),
        surveys.c.idx,
    )
    named: list[Any] = [col.label(c.name) for col, c in zip(columns, FACTS.columns, strict=True)]
    return (
        select(*named)
        .outerjoin(counts, counts.c.me == Person.id)
        .outerjoin(surveys, surveys.c.pid == Person.id)
        .where(Person.left_on.is_not(None), Person.left_on <= f.end)
        .where(segment_clause(f.segment, dialect))
    )


@asynccontextmanager
async def facts(session: AsyncSession, f: Filter) -> AsyncIterator[Table]:
    """The per-alumnus table for this filter, for the length of the block.

    Forgotten people are in it: forgetting keeps their anonymised counts so aggregates stay
    true (storage/privacy.py); nothing here names anyone."""
    dialect = dialect_of(session)
    conn = await session.connection()
    steps: tuple[tuple[Table, Any], ...]
    if dialect == "postgresql":
        # One statement: PostgreSQL hash-joins and hash-aggregates the steps in memory when
        # given room (the default 4 MB sends the 300,000-pair aggregates to disk).
        await conn.execute(text("SET LOCAL work_mem = '64MB'"))
        counts = _counts(f, _pairs().subquery("pairs")).subquery("counts")
        steps = ((FACTS, _facts_source(f, dialect, counts)),)
    else:
        # SQLite joins by nested loops: each step gets a table with a primary key, so the next
        # step's join is a key lookup.
        steps = (
            (PAIRS, _pairs()),
            (COUNTS, _counts(f, PAIRS)),
            (FACTS, _facts_source(f, dialect, COUNTS)),
        )
    await _drop(conn)
    try:
        for table, source in steps:
            await conn.run_sync(table.create)
            await conn.execute(insert(table).from_select([c.name for c in table.columns], source))
        if dialect == "postgresql":  # temporary tables get no statistics otherwise
            await conn.execute(text(f"ANALYZE {FACTS.name}"))
        yield FACTS
    finally:
        await _drop(conn)


async def _drop(conn: Any) -> None:
    for table in reversed(TEMPORARY):
        await conn.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
