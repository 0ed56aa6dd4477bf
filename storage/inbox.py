"""The inbox: every update or event a platform pushes is recorded here, in one short transaction,
before it is acknowledged; `bot/runtime/inbox.py` then handles what is recorded, with bounded
concurrency, and marks each item done. A crash between the two means it is handled again, never
lost (at least once: a handler that crashed mid-way may have answered already).

Items of one conversation (a chat, a person) are handled in the order they came, one at a time,
by whichever `serve` process claims them (row locks with SKIP LOCKED on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.db import Database
from storage.models import InboxItem, InboxState
from storage.outbox import insert_ignore

KEEP = timedelta(hours=48)  # done items are the memory of what was seen: a platform's retry


def private_conversation(workspace: str, user_id: str) -> str:
    """The conversation key of a person's own chat with the bot, whatever the channel: what
    `forgetme` clears of the inbox (a shared chat's key is the channel's own)."""
    return f"{workspace}:{user_id}"


async def forget_conversations(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> None:
    """Drop what these (channel, conversation) recorded, but an item being handled (the
    `forgetme` itself): the inbox holds people's words for up to KEEP."""
    for channel, conversation in keys:
        await session.execute(
            delete(InboxItem).where(
                InboxItem.channel == channel,
                InboxItem.conversation == conversation,
                InboxItem.state != InboxState.HANDLING,
            )
        )


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    conversation: str
    body: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Arrival:
    """One item a platform pushed, to record."""

    channel: str
    key: str
    conversation: str
    body: dict[str, Any]


async def record(
    db: Database, channel: str, key: str, conversation: str, body: dict[str, Any], now: datetime
) -> bool:
    """Keep it; True the first time this (channel, key) is seen, False for a repeat."""
    (fresh,) = await record_many(db, [Arrival(channel, key, conversation, body)], now)
    return fresh


async def record_many(db: Database, arrivals: Sequence[Arrival], now: datetime) -> list[bool]:
    """Keep them all in one transaction (a group commit: one write for many requests); for
    each, True the first time its (channel, key) is seen, False for a repeat — also a repeat
    of an earlier one in the same batch."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for item in arrivals:
        rows.setdefault((item.channel, item.key[:200]), {
            "channel": item.channel, "key": item.key[:200],
            "conversation": item.conversation[:200], "body": item.body,
            "state": InboxState.QUEUED, "attempts": 0, "received_at": now,
        })  # fmt: skip
    if not rows:
        return []
    table = InboxItem.__table__
    async with db.transaction() as session:
        statement = insert_ignore(session, table).values(list(rows.values()))
        result = await session.execute(statement.returning(table.c.channel, table.c.key))
        new = {(row.channel, row.key) for row in result}
    answers: list[bool] = []
    for item in arrivals:
        ident = (item.channel, item.key[:200])
        answers.append(ident in new)
        new.discard(ident)  # a second one of the same key in this batch is a repeat
    return answers


def _due(now: datetime, item: Any = InboxItem) -> Any:
    return or_(
        item.state == InboxState.QUEUED,
        and_(item.state == InboxState.HANDLING, item.lease_until <= now),
    )


async def claim(
    db: Database, worker: str, now: datetime, limit: int, lease: timedelta, max_attempts: int
) -> tuple[list[Claimed], list[Claimed]]:
    """Lease up to `limit` due items, oldest first, of conversations nobody is handling now:
    each conversation's oldest due item only, so a claim under way in another process, which
    has locked that item but not yet marked it, never lets this one take the next item of the
    same conversation (SKIP LOCKED skips the first, and the second is not a conversation's
    oldest). Returns (to handle, given up): an item whose handling crashed `max_attempts` times
    is dead."""
    async with db.transaction() as session:
        busy = select(InboxItem.conversation).where(
            InboxItem.state == InboxState.HANDLING, InboxItem.lease_until > now
        )
        earlier = aliased(InboxItem)  # a due item of the same conversation before this one
        waiting_behind = (
            select(earlier.id)
            .where(
                earlier.conversation == InboxItem.conversation,
                earlier.id < InboxItem.id,
                _due(now, earlier),
            )
            .exists()
        )
        query = (
            select(InboxItem)
            .where(_due(now), ~waiting_behind, InboxItem.conversation.not_in(busy))
            .order_by(InboxItem.id)
            .limit(limit)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = list(await session.scalars(query))
        handle: list[Claimed] = []
        dead: list[Claimed] = []
        for row in rows:
            item = Claimed(row.id, row.channel, row.conversation, row.body, row.attempts + 1)
            if row.attempts >= max_attempts:
                row.state, row.lease_until, row.done_at = InboxState.DEAD, None, now
                row.last_error = f"handling was interrupted {row.attempts} times"
                dead.append(item)
                continue
            row.state, row.attempts = InboxState.HANDLING, row.attempts + 1
            row.lease_until, row.leased_by = now + lease, worker
            handle.append(item)
        return handle, dead


async def done(db: Database, item_id: int, now: datetime, error: str | None = None) -> None:
    await done_many(db, [(item_id, error)], now)


async def done_many(
    db: Database, finished: Sequence[tuple[int, str | None]], now: datetime
) -> None:
    """Mark these (id, error or None) handled, in one transaction: one statement for all that
    went well, one for each that failed."""
    fine = [item_id for item_id, error in finished if error is None]
    marks: list[tuple[list[int], str | None]] = [(fine, None)] if fine else []
    marks += [([item_id], error) for item_id, error in finished if error is not None]
    if not marks:
        return
    async with db.transaction() as session:
        for ids, error in marks:
            await session.execute(
                update(InboxItem)
                .where(InboxItem.id.in_(ids))
                # The body goes: the key alone keeps a retry out, and people's words are not kept.
                .values(
                    state=InboxState.DONE, body={}, lease_until=None, done_at=now, last_error=error
                )
            )


async def extend(db: Database, worker: str, ids: Sequence[int], until: datetime) -> None:
    """Keep the leases of items still being handled (a heartbeat): a lease can then be short,
    and what a killed process held is taken over soon."""
    if not ids:
        return
    async with db.transaction() as session:
        await session.execute(
            update(InboxItem)
            .where(
                InboxItem.id.in_(list(ids)),
                InboxItem.leased_by == worker,
                InboxItem.state == InboxState.HANDLING,
            )
            .values(lease_until=until)
        )


async def release(db: Database, worker: str, ids: Sequence[int]) -> int:
    """Give back what this worker leased and did not finish (a clean stop): due at once."""
    if not ids:
        return 0
    async with db.transaction() as session:
        result = await session.execute(
            update(InboxItem)
            .where(
                InboxItem.id.in_(list(ids)),
                InboxItem.leased_by == worker,
                InboxItem.state == InboxState.HANDLING,
            )
            .values(state=InboxState.QUEUED, lease_until=None, attempts=InboxItem.attempts - 1)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount


async def waiting(db: Database) -> int:
    """Items recorded and not yet done (queued or being handled, by anyone)."""
    async with db.sessions() as session:
        states = (InboxState.QUEUED, InboxState.HANDLING)
        query = select(func.count()).select_from(InboxItem).where(InboxItem.state.in_(states))
        return int(await session.scalar(query) or 0)


async def forget_old(db: Database, now: datetime) -> int:
    async with db.transaction() as session:
        result = await session.execute(
            delete(InboxItem).where(
                InboxItem.state.in_((InboxState.DONE, InboxState.DEAD)),
                InboxItem.received_at < now - KEEP,
            )
        )
        assert isinstance(result, CursorResult)
        return result.rowcount
