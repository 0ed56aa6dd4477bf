"""The engagement review's people sections, computed in the database (issue 9).

One pass over the interaction log builds a temporary table with one row per alumnus in the
segment (`report_facts`): their former department and title, tenure, join route, leave reason,
months since leaving, how often they met former managers and colleagues in person and online in
the range, and their alumni-consciousness index (the mean of the three pulse items). Every
section is then a GROUP BY over that table (the consciousness section over cells counted from
it), so the interaction log is read once per report whatever the number of sections.

Relations: "manager" when the other person was the alumnus's manager; "colleague" for any other
recorded relation (teammates, and people the alumnus managed); "other" for contacts with nobody
related. Figures "a year" are counts over the range scaled to 365 days. Groups of fewer than
`MIN_GROUP` people are hidden (privacy), and so is a correlation over fewer."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
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
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Interaction, Person, Relation, SurveyResponse
from storage.report_filter import Filter
from storage.segments import segment_clause

MIN_GROUP = 5
TOP_GROUPS = 12
BUCKETS = ("0", "1–2", "3–5", "6–11", "12+")
MONTH_BUCKETS = ("0–11", "12–35", "36–59", "60+")
SERIES = ("colleague", "manager", "in_person", "online")

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


# -- sections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frequency:
    """Contacts a year per alumnus in a group (None when the group is hidden)."""

    label: str | None
    people: int
    colleague_in_person: float | None
    colleague_online: float | None
    manager_in_person: float | None
    manager_online: float | None
    total: float | None

    @property
    def hidden(self) -> bool:
        return self.total is None


@dataclass(frozen=True)
class Activity:
    overall: Frequency
    by_department: list[Frequency]
    by_title: list[Frequency]


def _frequency(label: str | None, row: Any, per_year: float) -> Frequency:
    people = int(row.people)
    if people < MIN_GROUP:
        return Frequency(label, people, None, None, None, None, None)

    def a(value: Any) -> float:
        return float(value or 0) * per_year / people

    total = a(row.c_in) + a(row.c_on) + a(row.m_in) + a(row.m_on) + a(row.o_all)
    return Frequency(label, people, a(row.c_in), a(row.c_on), a(row.m_in), a(row.m_on), total)


async def activity(session: AsyncSession, f: Filter) -> Activity:
    sums = (
        func.count().label("people"),
        func.sum(F.c_in).label("c_in"),
        func.sum(F.c_on).label("c_on"),
        func.sum(F.m_in).label("m_in"),
        func.sum(F.m_on).label("m_on"),
        func.sum(F.o_all).label("o_all"),
    )
    overall = (await session.execute(select(*sums))).one()
    groups: dict[str, list[Frequency]] = {}
    for name, column in (("department", F.department), ("title", F.title)):
        rows = await session.execute(
            select(column.label("label"), *sums)
            .group_by(column)
            .order_by(func.count().desc(), column)
            .limit(TOP_GROUPS)
        )
        groups[name] = [_frequency(r.label, r, f.per_year) for r in rows]
    return Activity(_frequency(None, overall, f.per_year), groups["department"], groups["title"])


@dataclass(frozen=True)
class Bucket:
    label: str
    people: int
    index: float | None  # None: hidden (fewer than MIN_GROUP people) or nobody


@dataclass(frozen=True)
class Correlation:
    series: str  # colleague | manager | in_person | online
    buckets: list[Bucket]
    rho: float | None  # Spearman's rank correlation; None when hidden or undefined
    people: int


def _series(name: str) -> Any:
    return {
        "colleague": F.c_in + F.c_on,
        "manager": F.m_in + F.m_on,
        "in_person": F.c_in + F.m_in,
        "online": F.c_on + F.m_on,
    }[name]


def _bucket(x: int, per_year: float) -> int:
    """Index into BUCKETS of `x` contacts in the range, scaled to a year."""
    yearly = x * per_year
    if x == 0:
        return 0
    return next((i for i, limit in enumerate((3, 6, 12), start=1) if yearly < limit), 4)


def _hide(label: str, people: int, index: Any) -> Bucket:
    shown = people >= MIN_GROUP and index is not None
    return Bucket(label, people, float(index) if shown else None)


def _average_ranks(counts: dict[Any, int]) -> dict[Any, float]:
    """Rank of each value among `counts[value]` copies of each: tied values share the mean of
    their positions (1-based)."""
    ranks, below = {}, 0
    for value in sorted(counts):
        ranks[value] = below + (counts[value] + 1) / 2
        below += counts[value]
    return ranks


def spearman(cells: dict[tuple[Any, Any], int]) -> tuple[float | None, int]:
    """Spearman's rho from a contingency table {(x, y): people}: Pearson's r of average ranks.
    (rho, n); rho is None when n < MIN_GROUP or a side is constant."""
    xs: dict[Any, int] = {}
    ys: dict[Any, int] = {}
    for (x, y), n in cells.items():
        xs[x] = xs.get(x, 0) + n
        ys[y] = ys.get(y, 0) + n
    n = sum(cells.values())
    if n < MIN_GROUP:
        return None, n
    rx, ry = _average_ranks(xs), _average_ranks(ys)
    mx, my = (n + 1) / 2, (n + 1) / 2  # the mean of ranks 1..n, ties or not
    vx = sum(c * (rx[x] - mx) ** 2 for x, c in xs.items())
    vy = sum(c * (ry[y] - my) ** 2 for y, c in ys.items())
    if vx <= 1e-9 or vy <= 1e-9:
        return None, n
    cov = sum(c * (rx[x] - mx) * (ry[y] - my) for (x, y), c in cells.items())
    return cov / math.sqrt(vx * vy), n


async def consciousness(session: AsyncSession, f: Filter) -> list[Correlation]:
    """The index against contact frequency buckets, per series (respondents only).

    One query counts the respondents by (series, contacts, index): a few hundred cells at most,
    since both are small counts and means of 1–5 answers. Buckets and rank correlations are
    computed from those cells, exactly as from the people themselves."""
    answered = F.idx.is_not(None)
    per_series = union_all(
        *(
            select(literal_column(str(i)).label("series"), _series(name).label("x"), F.idx).where(
                answered
            )
            for i, name in enumerate(SERIES)
        )
    ).subquery("per_series")
    p = per_series.c
    rows = await session.execute(
        select(p.series, p.x, p.idx, func.count()).group_by(p.series, p.x, p.idx)
    )
    cells: list[dict[tuple[int, float], int]] = [{} for _ in SERIES]
    for i, x, idx, n in rows:
        cells[int(i)][(int(x), float(idx))] = int(n)
    out = []
    for name, table in zip(SERIES, cells, strict=True):
        people, total = [0] * len(BUCKETS), [0.0] * len(BUCKETS)
        for (x, idx), n in table.items():
            b = _bucket(x, f.per_year)
            people[b] += n
            total[b] += idx * n
        buckets = [
            _hide(label, people[b], total[b] / people[b] if people[b] else None)
            for b, label in enumerate(BUCKETS)
        ]
        rho, n = spearman(table)
        out.append(Correlation(name, buckets, rho, n))
    return out


@dataclass(frozen=True)
class IndexBreakdown:
    dimension: str  # tenure | join_route | leave_reason | months
    groups: list[Bucket]  # labels are codes (tenure: lt3 / ge3) or the stored values


async def index_by(session: AsyncSession, f: Filter) -> list[IndexBreakdown]:
    answered = F.idx.is_not(None)
    months = case(
        (F.months < 12, 0), (F.months < 36, 1), (F.months < 60, 2), else_=3
    )  # fmt: skip
    tenure = case((F.tenure == 1, "ge3"), (F.tenure == 0, "lt3"), else_=None)
    out = []
    for name, column in (
        ("tenure", tenure),
        ("join_route", F.join_route),
        ("leave_reason", F.leave_reason),
        ("months", months),
    ):
        label = column.label("g")
        rows = (
            await session.execute(
                select(label, func.count().label("n"), func.avg(F.idx))
                .where(answered)
                .group_by(label)
                .order_by(func.count().desc())
            )
        ).all()
        if name == "months":
            found = {int(g): (int(n), idx) for g, n, idx in rows if g is not None}
            groups = [_hide(lab, *found.get(i, (0, None))) for i, lab in enumerate(MONTH_BUCKETS)]
        else:
            groups = [_hide(str(g) if g is not None else "", int(n), i) for g, n, i in rows]
            groups = sorted(groups, key=lambda b: (b.label == "", -b.people))[:TOP_GROUPS]
        out.append(IndexBreakdown(name, groups))
    return out
