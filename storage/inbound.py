"""Slack request signatures already seen (a replayed request is ignored), kept in the database
so every `serve` process shares them, for at least a day (a signature is good for 5 minutes; a
day leaves room for outages). Platforms' retries of an update or event are dropped by the inbox
(storage/inbox.py), which remembers their ids."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import CursorResult

from storage.db import Database
from storage.models import ProcessedEvent
from storage.outbox import insert_ignore

KEEP = timedelta(hours=48)


async def first_time(db: Database, source: str, event_id: str, now: datetime) -> bool:
    """Record the id; True the first time it is seen, False for a repeat (in its own, short
    transaction, so concurrent processes agree through the primary key)."""
    async with db.transaction() as session:
        result = await session.execute(
            insert_ignore(session, ProcessedEvent.__table__).values(
                source=source, event_id=event_id[:200], seen_at=now
            )
        )
        assert isinstance(result, CursorResult)
        return bool(result.rowcount)


async def forget_old(db: Database, now: datetime) -> int:
    async with db.transaction() as session:
        result = await session.execute(
            delete(ProcessedEvent).where(ProcessedEvent.seen_at < now - KEEP)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount
