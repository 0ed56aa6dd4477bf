"""The web console's lists of openings, their matches and the "interested" presses, a page at a
time (numbered pages of at most PAGE_SIZE rows, newest first), so they stay quick at 100,000
people."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import Match, Opening, Person, Referral

PAGE_SIZE = 25


@dataclass(frozen=True)
class Listed:
    opening: Opening
    matches: int
    interested: int


@dataclass(frozen=True)
class Matched:
    name: str
    score: float
    notified_at: datetime | None
    response: str | None
    reason: dict[str, Any]


@dataclass(frozen=True)
class Interested:
    name: str
    status: str
    at: datetime


def _offset(number: int, size: int) -> int:
    return (max(number, 1) - 1) * size


async def openings_page(
    session: AsyncSession, number: int = 1, size: int = PAGE_SIZE
) -> tuple[list[Listed], bool]:
    """Open and closed openings, newest first, with their match and interest counts; and
    whether a next page exists."""
    query = select(Opening).order_by(Opening.id.desc()).offset(_offset(number, size))
    found = list(await session.scalars(query.limit(size + 1)))
    shown = found[:size]
    matches = await _counts(session, Match.opening_id, [o.id for o in shown])
    interested = await _counts(session, Referral.opening_id, [o.id for o in shown],
                               Referral.kind == "interest")  # fmt: skip
    listed = [Listed(o, matches.get(o.id, 0), interested.get(o.id, 0)) for o in shown]
    return listed, len(found) > size


async def _counts(
    session: AsyncSession,
    column: InstrumentedAttribute[int],
    ids: Sequence[int],
    *where: ColumnElement[bool],
) -> dict[int, int]:
    if not ids:
        return {}
    query = select(column, func.count()).where(column.in_(ids), *where).group_by(column)
    return {int(k): int(n) for k, n in (await session.execute(query)).all()}


async def interest_count(session: AsyncSession, opening_id: int) -> int:
    query = select(func.count()).where(
        Referral.opening_id == opening_id, Referral.kind == "interest"
    )
    return int(await session.scalar(query) or 0)


async def matches_page(
    session: AsyncSession, opening_id: int, number: int = 1, size: int = PAGE_SIZE
) -> tuple[list[Matched], bool]:
    """Who matched the opening, best first (admins' view)."""
    query = (
        select(Person.name, Match.score, Match.notified_at, Match.response, Match.reason)
        .join(Person, Match.person_id == Person.id)
        .where(Match.opening_id == opening_id, Person.forgotten_at.is_(None))
        .order_by(Match.score.desc(), Match.id)
        .offset(_offset(number, size))
        .limit(size + 1)
    )
    rows = [Matched(*r) for r in (await session.execute(query)).all()]
    return rows[:size], len(rows) > size


async def interest_page(
    session: AsyncSession, opening_id: int, number: int = 1, size: int = PAGE_SIZE
) -> tuple[list[Interested], bool]:
    """Alumni who pressed "interested", newest first, with where their interest stands."""
    query = (
        select(Referral.candidate_name, Referral.status, Referral.created_at)
        .where(Referral.opening_id == opening_id, Referral.kind == "interest")
        .order_by(Referral.id.desc())
        .offset(_offset(number, size))
        .limit(size + 1)
    )
    rows = [Interested(*r) for r in (await session.execute(query)).all()]
    return rows[:size], len(rows) > size
