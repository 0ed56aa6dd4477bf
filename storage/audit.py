"""The audit log: who did what to what, when, and whether it was allowed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


def record(
    session: AsyncSession,
    now: datetime,
    actor_id: int | None,
    action: str,
    target: str | None = None,
    *,
    allowed: bool = True,
    **detail: Any,
) -> None:
    session.add(
        AuditEntry(
            at=now, actor_id=actor_id, action=action, target=target, allowed=allowed, detail=detail
        )
    )
