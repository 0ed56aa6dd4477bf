"""Monthly send counts of platforms whose plans limit proactive messages (LINE's pushes).

One row per (channel, month), incremented with an upsert so that every process adds to the same
count; `stats` shows it and delivery reads it to decide what waits (bot/runtime/delivery.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import MonthlySends

# The plans' months are Japan's (LINE counts from the 1st, Japan time).
QUOTA_ZONE = ZoneInfo("Asia/Tokyo")


def month_of(now: datetime) -> str:
    return now.astimezone(QUOTA_ZONE).strftime("%Y-%m")


def next_month(now: datetime) -> datetime:
    """When the count starts again: the 1st of next month, 00:00 Japan time."""
    local = now.astimezone(QUOTA_ZONE)
    first = (local.replace(day=1) + timedelta(days=32)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    return first.astimezone(ZoneInfo("UTC"))


async def add(db: Database, channel: str, month: str, n: int = 1) -> None:
    async with db.transaction() as session:
        dialect = session.get_bind().dialect.name
        module = postgresql if dialect == "postgresql" else sqlite
        table = MonthlySends.__table__
        statement = module.insert(table).values(channel=channel, month=month, count=n)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["channel", "month"],
                set_={"count": table.c.count + n},
            )
        )


async def used(session: AsyncSession, channels: Iterable[str], month: str) -> dict[str, int]:
    """{channel: sends this month} for the channels asked about (0 when none yet)."""
    wanted = list(channels)
    found = {c: 0 for c in wanted}
    if wanted:
        rows = await session.execute(
            select(MonthlySends.channel, MonthlySends.count).where(
                MonthlySends.channel.in_(wanted), MonthlySends.month == month
            )
        )
        found.update({str(row[0]): int(row[1]) for row in rows})
    return found
