"""Slack request signatures already seen (a replayed request is ignored), kept in the database
so every `serve` process shares them, for at least a day (a signature is good for 5 minutes; a
day leaves room for outages). Platforms' retries of an update or event are dropped by the inbox
(storage/inbox.py), which remembers their ids."""

from __future__ import annotations

from collections.abc import Sequence
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
    (fresh,) = await first_times(db, source, [event_id], now)
    return fresh


async def first_times(
    db: Database, source: str, event_ids: Sequence[str], now: datetime
) -> list[bool]:
    """`first_time` for many ids in one transaction (a group commit of concurrent requests);
    an id twice in the batch is new only the first time."""
    ids = [event_id[:200] for event_id in event_ids]
    if not ids:
        return []
    table = ProcessedEvent.__table__
    rows = [{"source": source, "event_id": i, "seen_at": now} for i in dict.fromkeys(ids)]
    async with db.transaction() as session:
        statement = insert_ignore(session, table).values(rows).returning(table.c.event_id)
        new = {row.event_id for row in await session.execute(statement)}
    answers: list[bool] = []
    for event_id in ids:
        answers.append(event_id in new)
        new.discard(event_id)
    return answers


async def forget_old(db: Database, now: datetime) -> int:
    async with db.transaction() as session:
        result = await session.execute(
            delete(ProcessedEvent).where(ProcessedEvent.seen_at < now - KEEP)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount
