"""Claiming the people whose check-in, pulse survey or nudge is due.

One shape for all three schedules (a `next_*_at` column on people): people without a time get
their first one, and due people are claimed in bounded batches with row locks that other workers
skip (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, and_, bindparam, exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.core.platforms import DELIVERABLE
from storage.db import Database
from storage.models import Cadence, Identity, Person
from storage.schedule import spread_minute

# Only people a message can reach: a deliverable identity not known to be unreachable.
REACHABLE = exists().where(
    Identity.person_id == Person.id,
    Identity.channel.in_(DELIVERABLE),
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
    unanswered: int = 0  # check-ins sent since the last answer
    country: str | None = None  # whose public holidays: their choice, else their zone's

    def zone(self, default: str) -> ZoneInfo:
        return ZoneInfo(self.timezone or default)

    def local_minute(self, window_start: time, window_end: time) -> int:
        """The preferred minute of the local day, or a stable one spread over the window."""
        if self.minute is not None:
            return self.minute
        return spread_minute(self.id, window_start, window_end)


COLUMNS = (
    Person.id, Person.name, Person.locale, Person.timezone, Person.checkin_cadence,
    Person.checkin_minute, Person.paused, Person.opt_outs, Person.unanswered_checkins,
    Person.country,
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
    asked: Collection[int] = (),
) -> None:
    """Set each person's next time, and count one more unanswered check-in for those `asked`
    (set back to 0 by any answer) in the same statement: every row is written once.

    On PostgreSQL one UPDATE … FROM unnest(arrays), several times faster than row updates;
    elsewhere an executemany of updates by primary key."""
    if not times:
        return
    asked = set(asked)
    bumps = [1 if pid in asked else 0 for pid, _ in times]
    if session.get_bind().dialect.name == "postgresql":
        statement = text(
            f"UPDATE people SET {column.key} = v.at,"
            " unanswered_checkins = people.unanswered_checkins + v.bump"
            " FROM unnest(CAST(:ids AS integer[]), CAST(:ats AS timestamp[]),"
            " CAST(:bumps AS integer[])) AS v(id, at, bump)"
            " WHERE people.id = v.id"
        )
        ats = [at.astimezone(UTC).replace(tzinfo=None) if at else None for _, at in times]
        ids = [pid for pid, _ in times]
        await session.execute(statement, {"ids": ids, "ats": ats, "bumps": bumps})
        return
    table = cast(Table, Person.__table__)
    by_id = (
        update(table)
        .where(table.c.id == bindparam("pid"))
        .values(
            {
                column.key: bindparam("at"),
                "unanswered_checkins": table.c.unanswered_checkins + bindparam("bump"),
            }
        )
    )
    await session.execute(
        by_id,
        [
            {"pid": pid, "at": at, "bump": bump}
            for (pid, at), bump in zip(times, bumps, strict=True)
        ],
    )


async def schedule_newcomers(
    db: Database,
    column: InstrumentedAttribute[datetime | None],
    eligible: ColumnElement[bool],
    size: int,
    first: Callable[[Due], datetime | None],
) -> int:
    """Give everyone eligible without a time their first one, batch by batch. Run once per tick
    before claiming: done inside every claiming batch it would rescan the table each time."""
    scheduled = 0
    while True:
        async with db.transaction() as session:
            rows = await unscheduled(session, column, eligible, size)
            await reschedule(session, column, [(r.id, first(r)) for r in rows])
        scheduled += len(rows)
        if len(rows) < size:
            return scheduled


async def drain(db: Database, batch: Callable[[], Awaitable[tuple[int, int]]], size: int) -> int:
    """Run claiming batches until one comes back short; returns how many messages were queued.

    On PostgreSQL two loops run at once — SKIP LOCKED hands them disjoint rows, and the database
    works while Python renders — which nearly halves a large tick. SQLite has one writer."""

    async def loop() -> int:
        queued = 0
        while True:
            claimed, sent = await batch()
            queued += sent
            if claimed < size:
                return queued

    loops = 1 if db.is_sqlite else 2
    return sum(await asyncio.gather(*(loop() for _ in range(loops))))
