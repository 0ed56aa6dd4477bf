"""What the delivery workers (bot/runtime/delivery.py) ask of the database: claiming due outbox rows
under a lease, writing back what happened to them, and the shared rate-limit buckets.

Claiming is `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers never take the
same row; on SQLite every transaction begins IMMEDIATE (storage/db.py), which serialises claims
just as well for the one worker SQLite supports. A row stays `sending` while leased; a worker
that dies leaves it there, and once `lease_until` passes any worker may claim it again."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Identity, OutboxMessage, OutboxState, Person, RateLimit
from storage.outbox import insert_ignore

WAITING = (OutboxState.QUEUED, OutboxState.FAILED)

# Every outcome writes the same columns, so SQLAlchemy sends one executemany per flush.
OUTCOME_COLUMNS = (
    "state", "not_before", "attempts", "lease_until", "leased_by", "last_error", "sent_at",
    "identity_id", "channel", "workspace", "recipient",
)  # fmt: skip


@dataclass(frozen=True)
class Claimed:
    message: OutboxMessage
    reclaimed: bool  # its lease had expired: a worker died holding it, it may have been sent


def _due(now: datetime) -> Any:
    not_paused = ~exists().where(Person.id == OutboxMessage.person_id, Person.paused.is_(True))
    return and_(
        or_(
            and_(OutboxMessage.state.in_(WAITING), OutboxMessage.not_before <= now),
            and_(OutboxMessage.state == "sending", OutboxMessage.lease_until < now),
        ),
        not_paused,
    )


async def claim(
    session: AsyncSession, *, worker: str, now: datetime, limit: int, lease: timedelta
) -> list[Claimed]:
    """Lease up to `limit` due messages to `worker` (urgent first, then oldest)."""
    query = (
        select(OutboxMessage.id, OutboxMessage.state)
        .where(_due(now))
        .order_by(OutboxMessage.urgent.desc(), OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxMessage)
    rows = (await session.execute(query)).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    reclaimed = {r.id for r in rows if r.state == "sending"}
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            state="sending",
            lease_until=now + lease,
            leased_by=worker,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    found = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.urgent.desc(), OutboxMessage.not_before, OutboxMessage.id)
        .execution_options(populate_existing=True)
    )
    return [Claimed(m, m.id in reclaimed) for m in found]


async def people_with_identities(session: AsyncSession, ids: Iterable[int]) -> dict[int, Person]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = await session.scalars(
        select(Person).options(selectinload(Person.identities)).where(Person.id.in_(wanted))
    )
    return {p.id: p for p in found}


async def identities_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, Identity]:
    """Identities with their person (answers go to the one who wrote, joined or not)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = await session.scalars(
        select(Identity).options(selectinload(Identity.person)).where(Identity.id.in_(wanted))
    )
    return {i.id: i for i in found}


def outcome(message: OutboxMessage, **changes: Any) -> dict[str, Any]:
    """The row as it should be written back: its current values, with `changes`."""
    row = {name: getattr(message, name) for name in OUTCOME_COLUMNS}
    unknown = set(changes) - set(OUTCOME_COLUMNS)
    if unknown:
        raise ValueError(f"not an outcome column: {sorted(unknown)}")
    row.update(changes)
    row["last_error"] = (row["last_error"] or None) and str(row["last_error"])[:500]
    row["id"] = message.id
    return row


async def write_outcomes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(update(OutboxMessage), list(rows))


async def update_identities(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk update identities by primary key (a learned chat id, unreachable marks)."""
    by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_keys.setdefault(tuple(sorted(row)), []).append(row)
    for group in by_keys.values():
        await session.execute(update(Identity), group)


async def next_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the next message becomes claimable (now or earlier if one is due already);
    None when nothing waits. Rows leased by a live worker are that worker's business."""
    waiting = await session.scalar(
        select(func.min(OutboxMessage.not_before)).where(
            OutboxMessage.state.in_(WAITING),
            ~exists().where(Person.id == OutboxMessage.person_id, Person.paused.is_(True)),
        )
    )
    expired = await session.scalar(
        select(func.min(OutboxMessage.lease_until)).where(
            OutboxMessage.state == "sending", OutboxMessage.lease_until < now
        )
    )
    times: list[datetime] = [t for t in (waiting, expired) if t is not None]
    return min(times) if times else None


@dataclass(frozen=True)
class Backlog:
    """What is left in the outbox once a drain stops."""

    leased: int  # being sent by another worker (or held by a dead one until its lease ends)
    leased_until: datetime | None
    later: int  # waiting for a later time (retry backoff, quiet hours, scheduled)
    next_at: datetime | None


async def backlog(session: AsyncSession, now: datetime) -> Backlog:
    leased, until = (
        await session.execute(
            select(func.count(), func.max(OutboxMessage.lease_until)).where(
                OutboxMessage.state == "sending", OutboxMessage.lease_until >= now
            )
        )
    ).one()
    later, next_at = (
        await session.execute(
            select(func.count(), func.min(OutboxMessage.not_before)).where(
                OutboxMessage.state.in_(WAITING)
            )
        )
    ).one()
    return Backlog(int(leased), until, int(later), next_at)


# -- rate-limit buckets -----------------------------------------------------------------------

Bucket = tuple[str, float]  # (key, seconds between two sends)


async def reserve(
    session: AsyncSession, now: datetime, wanted: Sequence[Sequence[Bucket]], horizon: datetime
) -> list[tuple[datetime, bool]]:
    """Give each message, in order, the earliest send time its buckets allow, and move the
    buckets on. Returns (time, reserved) per message: not reserved when that time is past
    `horizon` (the caller puts the message back in the queue until then).

    The bucket rows are locked (in key order, so two workers cannot deadlock) for the length of
    this short transaction: every worker sees the slots the others took."""
    keys = sorted({key for buckets in wanted for key, _ in buckets})
    if not keys:
        return [(now, True) for _ in wanted]
    await session.execute(
        insert_ignore(session, RateLimit.__table__).values(
            [{"key": k, "next_at": now, "paused_until": None} for k in keys]
        )
    )
    query = select(RateLimit).where(RateLimit.key.in_(keys)).order_by(RateLimit.key)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = {
        r.key: r for r in await session.scalars(query.execution_options(populate_existing=True))
    }
    next_at = {k: now for k in keys}
    for key, row in rows.items():
        start = max(row.next_at, row.paused_until or row.next_at)
        next_at[key] = max(start, now)
    changed: set[str] = set()
    slots: list[tuple[datetime, bool]] = []
    for buckets in wanted:
        slot = max((next_at[key] for key, _ in buckets), default=now)
        if slot > horizon:
            slots.append((slot, False))
            continue
        for key, interval in buckets:
            next_at[key] = slot + timedelta(seconds=interval)
            changed.add(key)
        slots.append((slot, True))
    for key in changed:
        if key in rows:
            rows[key].next_at = next_at[key]
    return slots


async def pause(session: AsyncSession, key: str, until: datetime, now: datetime) -> None:
    """A 429: nobody sends through this bucket before `until`."""
    await session.execute(
        insert_ignore(session, RateLimit.__table__).values(key=key, next_at=now, paused_until=None)
    )
    query = select(RateLimit).where(RateLimit.key == key)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await session.scalars(query.execution_options(populate_existing=True))).one()
    if row.paused_until is None or row.paused_until < until:
        row.paused_until = until
    if row.next_at < until:
        row.next_at = until


async def prune_rate_limits(session: AsyncSession, before: datetime) -> int:
    """Forget per-chat buckets nobody used since `before` (there is one per chat ever sent to)."""
    result = await session.execute(
        delete(RateLimit).where(
            RateLimit.next_at < before,
            or_(RateLimit.paused_until.is_(None), RateLimit.paused_until < before),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def recent_sends(
    session: AsyncSession, person_ids: Iterable[int], kinds: Iterable[str], since: datetime
) -> dict[int, list[datetime]]:
    """When each person was last sent messages of these kinds since `since` (the weekly cap)."""
    ids = sorted(set(person_ids))
    found: dict[int, list[datetime]] = {pid: [] for pid in ids}
    if not ids:
        return found
    rows = await session.execute(
        select(OutboxMessage.person_id, OutboxMessage.sent_at).where(
            OutboxMessage.person_id.in_(ids),
            OutboxMessage.kind.in_(list(kinds)),
            OutboxMessage.state == OutboxState.SENT,
            OutboxMessage.sent_at >= since,
        )
    )
    for pid, at in rows:
        if pid is not None and at is not None:
            found[pid].append(at)
    return found
