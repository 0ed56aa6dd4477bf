"""Enqueuing proactive messages. Enqueue inside the transaction that caused the message; the
idempotency key makes enqueuing the same logical message twice a no-op. Delivery is
bot/delivery.py's job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from bot.types import Reply
from storage.models import OutboxMessage


def insert_ignore(session: AsyncSession, table: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for the session's database."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


async def enqueue(
    session: AsyncSession,
    *,
    person_id: int,
    reply: Reply,
    key: str,
    kind: str,
    now: datetime,
    not_before: datetime | None = None,
    urgent: bool = False,
    broadcast_id: int | None = None,
) -> bool:
    """Queue `reply` for the person; False when a message with this key was already queued."""
    result = await session.execute(
        insert_ignore(session, OutboxMessage.__table__).values(
            idempotency_key=key,
            person_id=person_id,
            payload=reply.to_dict(),
            kind=kind,
            urgent=urgent,
            broadcast_id=broadcast_id,
            state="queued",
            attempts=0,
            not_before=not_before or now,
            created_at=now,
        )
    )
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)


async def enqueue_many(
    session: AsyncSession,
    messages: Sequence[tuple[int, str, dict[str, Any]]],
    *,
    kind: str,
    now: datetime,
    urgent: bool = False,
    broadcast_id: int | None = None,
) -> None:
    """Queue many messages in one executemany: (person id, idempotency key, `Reply.to_dict()`)
    each. Keys already queued are skipped, as in `enqueue`. Callers pass bounded chunks."""
    if not messages:
        return
    await session.execute(
        insert_ignore(session, OutboxMessage.__table__),
        [
            {
                "idempotency_key": key,
                "person_id": person_id,
                "payload": payload,
                "kind": kind,
                "urgent": urgent,
                "broadcast_id": broadcast_id,
                "state": "queued",
                "attempts": 0,
                "not_before": now,
                "created_at": now,
            }
            for person_id, key, payload in messages
        ],
    )
