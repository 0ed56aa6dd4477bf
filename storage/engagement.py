"""Claiming the people whose check-in, pulse survey or nudge is due.

One shape for all three schedules (a `next_*_at` column on people): people without a time get
their first one, and due people are claimed in bounded batches with row locks that other workers
skip (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import Cadence, Identity, Person
from storage.schedule import spread_minute

# Only people a message can reach: a Slack or Telegram identity not known to be unreachable.
REACHABLE = exists().where(
    Identity.person_id == Person.id,
    Identity.channel.in_(("slack", "telegram")),
    Identity.reachable.is_(True),
)
MEMBER = and_(Person.forgotten_at.is_(None), Person.consent_at.isnot(None), REACHABLE)
CHECKIN = and_(MEMBER, Person.left_on.isnot(None), Person.checkin_cadence != Cadence.OFF)
SURVEY = and_(MEMBER, Person.left_on.isnot(None))
NUDGE = and_(MEMBER, Person.left_on.is_(None))


@dataclass(frozen=True)
class Due:
    id: int
    name: str
    locale: str | None
    timezone: str | None
    cadence: str
    minute: int | None
    paused: bool
    opt_outs: list[str]

    def zone(self, default: str) -> ZoneInfo:
        return ZoneInfo(self.timezone or default)

    def local_minute(self, window_start: time, window_end: time) -> int:
        """The preferred minute of the local day, or a stable one spread over the window."""
        if self.minute is not None:
            return self.minute
        return spread_minute(self.id, window_start, window_end)


COLUMNS = (
    Person.id, Person.name, Person.locale, Person.timezone, Person.checkin_cadence,
    Person.checkin_minute, Person.paused, Person.opt_outs,
)  # fmt: skip


def _rows(result: Any) -> list[Due]:
    return [Due(*row) for row in result]


async def unscheduled(
    session: AsyncSession,
    column: InstrumentedAttribute[datetime | None],
    eligible: ColumnElement[bool],
    limit: int,
) -> list[Due]:
    query = (
        select(*COLUMNS)
        .where(column.is_(None), eligible)
        .order_by(Person.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Person)
    )
    return _rows(await session.execute(query))


async def due(
    session: AsyncSession,
    column: InstrumentedAttribute[datetime | None],
    eligible: ColumnElement[bool],
    now: datetime,
    limit: int,
) -> list[Due]:
    query = (
        select(*COLUMNS)
        .where(column <= now, eligible)
        .order_by(column)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Person)
    )
    return _rows(await session.execute(query))


async def reschedule(
    session: AsyncSession,
    column: InstrumentedAttribute[datetime | None],
    times: Sequence[tuple[int, datetime | None]],
) -> None:
    """Set each person's next time in one executemany (an ORM bulk update by primary key)."""
    if times:
        await session.execute(update(Person), [{"id": pid, column.key: at} for pid, at in times])
