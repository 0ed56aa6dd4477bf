"""The engagement review's people sections, computed in the database (issue 9).

Every section is a GROUP BY over the per-alumnus table of storage/reports/facts.py (the
consciousness section over cells counted from it), so the interaction log is read once per
report whatever the number of sections. Figures "a year" are counts over the range scaled to 365
days. Groups of fewer than `MIN_GROUP` people are hidden (privacy), and so is a correlation over
fewer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from storage.reports.facts import F
from storage.reports.filter import Filter

MIN_GROUP = 5
TOP_GROUPS = 12
BUCKETS = ("0", "1–2", "3–5", "6–11", "12+")
MONTH_BUCKETS = ("0–11", "12–35", "36–59", "60+")
SERIES = ("colleague", "manager", "in_person", "online")

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
