"""The engagement log as the web console pages it: interactions in a date range where either
side is in the segment, newest first, a page at a time (the counts come from the database, so a
page costs the same at 100,000 people)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Interaction, Person
from storage.reports.facts import dialect_of
from storage.reports.filter import Filter
from storage.segments import people_in

PAGE_SIZE = 50


@dataclass(frozen=True)
class Row:
    occurred_on: date
    kind: str
    source: str
    name_a: str
    name_b: str


@dataclass(frozen=True)
class Page:
    total: int
    by_kind: dict[str, int]
    rows: list[Row]  # empty unless asked for (names: admins only)


def _where(f: Filter, dialect: str) -> list[Any]:
    conditions: list[Any] = [Interaction.occurred_on >= f.start, Interaction.occurred_on <= f.end]
    members = people_in(f.segment, dialect)
    if members is not None:
        conditions.append(or_(Interaction.person_a.in_(members), Interaction.person_b.in_(members)))
    return conditions


async def page(
    session: AsyncSession, f: Filter, *, number: int = 1, with_rows: bool, size: int = PAGE_SIZE
) -> Page:
    where = _where(f, dialect_of(session))
    counted = await session.execute(
        select(Interaction.kind, func.count()).where(*where).group_by(Interaction.kind)
    )
    by_kind: dict[str, int] = {str(kind): int(n) for kind, n in counted}
    rows: list[Row] = []
    if with_rows:
        a, b = aliased(Person), aliased(Person)
        found = await session.execute(
            select(Interaction.occurred_on, Interaction.kind, Interaction.source,
                   a.name, a.forgotten_at, b.name, b.forgotten_at)
            .join(a, a.id == Interaction.person_a)
            .join(b, b.id == Interaction.person_b)
            .where(*where)
            .order_by(Interaction.occurred_on.desc(), Interaction.id.desc())
            .offset((max(number, 1) - 1) * size)
            .limit(size)
        )  # fmt: skip
        for day, kind, source, name_a, gone_a, name_b, gone_b in found:
            rows.append(
                Row(day, kind, source, "—" if gone_a else name_a, "—" if gone_b else name_b)
            )
    return Page(sum(by_kind.values()), by_kind, rows)
