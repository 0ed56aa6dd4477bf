"""Reading the audit log (storage/audit.py writes it): the latest entries, filtered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, Person

LATEST = 20


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: str | None  # email, else name; None: the system or the command line
    action: str
    target: str | None
    allowed: bool
    detail: dict[str, Any]


async def latest(
    session: AsyncSession,
    *,
    actor_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    refused_only: bool = False,
    limit: int = LATEST,
) -> list[Entry]:
    query = (
        select(AuditEntry, Person.email, Person.name, Person.forgotten_at)
        .outerjoin(Person, Person.id == AuditEntry.actor_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if refused_only:
        query = query.where(AuditEntry.allowed.is_(False))
    out = []
    for entry, email, name, forgotten in await session.execute(query):
        who = None if entry.actor_id is None else ("—" if forgotten else (email or name))
        out.append(
            Entry(entry.id, entry.at, who, entry.action, entry.target, entry.allowed, entry.detail)
        )
    return out


async def get(session: AsyncSession, entry_id: int) -> AuditEntry | None:
    return await session.get(AuditEntry, entry_id)


async def latest_of(session: AsyncSession, actor_id: int, action: str) -> AuditEntry | None:
    return await session.scalar(
        select(AuditEntry)
        .where(AuditEntry.actor_id == actor_id, AuditEntry.action == action)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
