"""Enqueuing proactive messages. Enqueue inside the transaction that caused the message; the
idempotency key makes enqueuing the same logical message twice a no-op. Delivery is
bot/runtime/delivery.py's job."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.types import Reply
from storage.db import Database
from storage.models import Identity, OutboxKind, OutboxMessage, OutboxState


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
    return await queue(
        session, key=key, reply=reply, kind=kind, now=now, not_before=not_before,
        person_id=person_id, urgent=urgent, broadcast_id=broadcast_id,
    )  # fmt: skip


async def queue(
    session: AsyncSession,
    *,
    key: str,
    reply: Reply,
    kind: str,
    now: datetime,
    not_before: datetime | None,
    **columns: Any,
) -> bool:
    result = await session.execute(
        insert_ignore(session, OutboxMessage.__table__).values(
            idempotency_key=key[:200],
            payload=reply.to_dict(),
            kind=kind,
            state=OutboxState.QUEUED,
            attempts=0,
            not_before=not_before or now,
            created_at=now,
            **columns,
        )
    )
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)


async def enqueue_answer(
    db: Database,
    *,
    channel: str,
    workspace: str,
    user_id: str,
    chat_id: str | None,
    reply: Reply,
    key: str,
    now: datetime,
    not_before: datetime | None = None,
) -> bool:
    """An answer whose send failed, for the worker's retries: to `chat_id` (None: the person's
    private chat), on behalf of the identity that wrote (who may not have joined)."""
    async with db.transaction() as session:
        identity = await session.scalar(
            select(Identity).where(
                Identity.channel == channel,
                Identity.workspace == workspace,
                Identity.user_id == user_id,
            )
        )
        if identity is None:
            return False
        return await queue(
            session, key=key, reply=reply, kind=OutboxKind.ANSWER, now=now,
            not_before=not_before, person_id=identity.person_id, identity_id=identity.id,
            channel=channel, workspace=workspace, recipient=chat_id, urgent=True,
        )  # fmt: skip


async def enqueue_many(
    session: AsyncSession,
    messages: Sequence[tuple[int, str, dict[str, Any]]],
    *,
    kind: str,
    now: datetime,
    urgent: bool = False,
    broadcast_id: int | None = None,
    channel: str | None = None,
) -> None:
    """Queue many messages at once: (person id, idempotency key, `Reply.to_dict()`) each. Keys
    already queued are skipped, as in `enqueue`. Callers pass bounded chunks. `channel` is set
    for mail only (storage/mail.py): the worker picks a chat place itself.

    On PostgreSQL one INSERT … SELECT FROM unnest(arrays): a single statement, several times
    faster than an executemany of row inserts (100,000 due check-ins must queue in seconds)."""
    if not messages:
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            UNNEST_INSERT,
            {
                "keys": [key for _, key, _ in messages],
                "people": [person_id for person_id, _, _ in messages],
                "payloads": [json.dumps(payload) for _, _, payload in messages],
                "kind": kind,
                "urgent": urgent,
                "broadcast_id": broadcast_id,
                "channel": channel,
                "now": now.astimezone(UTC).replace(tzinfo=None),  # UTCDateTime's storage form
            },
        )
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
                "channel": channel,
                "state": OutboxState.QUEUED,
                "attempts": 0,
                "not_before": now,
                "created_at": now,
            }
            for person_id, key, payload in messages
        ],
    )


UNNEST_INSERT = text(
    "INSERT INTO outbox (idempotency_key, person_id, payload, kind, urgent, broadcast_id, channel,"
    " state, attempts, not_before, created_at)"
    " SELECT k, p, CAST(j AS json), :kind, :urgent, :broadcast_id, CAST(:channel AS varchar),"
    " 'queued', 0, :now, :now"
    " FROM unnest(CAST(:keys AS varchar[]), CAST(:people AS integer[]), CAST(:payloads AS text[]))"
    " AS v(k, p, j) ON CONFLICT DO NOTHING"
)
