"""The interaction log: who met whom, when and how. Stored once per pair, day and kind, however
many sides log it (the lower person id is always `person_a`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Interaction, InteractionKind
from storage.outbox import insert_ignore


async def record(
    session: AsyncSession,
    a: int,
    b: int,
    kind: InteractionKind | str,
    day: date,
    *,
    source: str,
    logged_by: int | None,
    now: datetime,
    note: str | None = None,
) -> bool:
    """Log a contact; False when that pair already has one of this kind on that day."""
    if a == b:
        raise ValueError("an interaction needs two different people")
    low, high = sorted((a, b))
    result = await session.execute(
        insert_ignore(session, Interaction.__table__).values(
            person_a=low,
            person_b=high,
            kind=str(kind),
            occurred_on=day,
            source=source,
            logged_by=logged_by,
            note=note,
            created_at=now,
        )
    )
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)
