"""The web console's people page (admins): a segment a page at a time, or a name search through
the chat's own Japanese-aware lookup (storage/names.py), each person with their contacts in the
date range. Forgotten people are never listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from storage import names
from storage.models import Interaction, Person
from storage.reports.facts import dialect_of
from storage.reports.filter import Filter
from storage.segments import segment_clause

PAGE_SIZE = 50


@dataclass(frozen=True)
class Listed:
    id: int
    name: str
    email: str | None
    department: str | None
    left_on: date | None
    contacts: int  # interactions in the filter's range


@dataclass(frozen=True)
class PeoplePage:
    people: list[Listed]
    more: bool  # another page follows (or, for a search, more matched than shown)


async def _contacts(session: AsyncSession, ids: list[int], f: Filter) -> dict[int, int]:
    if not ids:
        return {}
    in_range = (Interaction.occurred_on >= f.start, Interaction.occurred_on <= f.end)
    sides = union_all(
        select(Interaction.person_a.label("pid")).where(Interaction.person_a.in_(ids), *in_range),
        select(Interaction.person_b.label("pid")).where(Interaction.person_b.in_(ids), *in_range),
    ).subquery()
    found = await session.execute(select(sides.c.pid, func.count()).group_by(sides.c.pid))
    return {int(pid): int(n) for pid, n in found}


async def page(
    session: AsyncSession, f: Filter, *, search: str = "", caller_id: int, number: int = 1
) -> PeoplePage:
    live = Person.forgotten_at.is_(None)
    query = select(Person).where(live, segment_clause(f.segment, dialect_of(session)))
    more = False
    if search.strip():
        text = search.strip()
        hits = await names.lookup(session, text, caller_id)
        ids = [h.person_id for h in hits.found]
        query = query.where(or_(Person.id.in_(ids), func.lower(Person.email) == text.lower()))
        more = hits.more > 0
        rows = list(await session.scalars(query.order_by(Person.name, Person.id)))
    else:
        query = query.order_by(Person.name, Person.id)
        query = query.offset((max(number, 1) - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
        rows = list(await session.scalars(query))
        more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    contacts = await _contacts(session, [p.id for p in rows], f)
    listed = [
        Listed(p.id, p.name, p.email, p.department, p.left_on, contacts.get(p.id, 0)) for p in rows
    ]
    return PeoplePage(listed, more)
