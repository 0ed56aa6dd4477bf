"""One check-in tick over 100,000 due alumni: claim, render, enqueue, reschedule.

Target (issue 6): under 5 s on PostgreSQL, memory bounded (batches, never every row at once).
Baseline in the same process: bulk-inserting the same number of outbox rows with nothing else —
the floor any tick must pay. Peak memory is measured on a second run under tracemalloc.

    python bench/checkins_tick.py [--people 100000] [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, insert, text, update

from bench.fresh_db import fresh_database
from bot.core.clock import FixedClock
from bot.core.settings import Settings
from bot.core.types import Reply
from bot.runtime.app import App
from handlers.checkins import tick_checkins
from storage.models import Identity, OutboxMessage, Person
from storage.outbox import enqueue_many

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
CHUNK = 5000


async def populate(app: App, count: int) -> None:
    rng = random.Random(7)
    for start in range(0, count, CHUNK):
        people = [
            {
                "id": pid, "email": f"p{pid}@example.com", "name": f"Person {pid}",
                "left_on": date(2024, 1, 1), "consent_at": NOW, "checkin_cadence": "monthly",
                "checkin_minute": rng.randrange(600, 1140),
                "next_checkin_at": NOW - timedelta(minutes=1),
                "locale": rng.choice(["ja", "en"]), "timezone": "Asia/Tokyo", "skills": [],
                "desired_roles": [], "opt_outs": [], "comeback": "unknown", "paused": False,
                "created_at": NOW, "updated_at": NOW,
            }
            for pid in range(start + 1, min(start + CHUNK, count) + 1)
        ]  # fmt: skip
        identities = [
            {"person_id": p["id"], "channel": "telegram", "workspace": "", "user_id": str(p["id"]),
             "chat_id": str(p["id"]), "priority": 0, "reachable": True, "created_at": NOW}
            for p in people
        ]  # fmt: skip
        async with app.db.transaction() as session:
            await session.execute(insert(Person), people)
            await session.execute(insert(Identity), identities)
    if app.db.engine.dialect.name == "postgresql":  # as autovacuum would after a bulk load
        async with app.db.engine.begin() as conn:  # committed: statistics are transactional
            await conn.execute(text("ANALYZE"))


async def reset(app: App) -> None:
    async with app.db.transaction() as session:
        await session.execute(delete(OutboxMessage))
        await session.execute(update(Person).values(next_checkin_at=NOW - timedelta(minutes=1)))


async def baseline(app: App, count: int) -> float:
    payload = Reply("How are you?").to_dict()
    start = time.perf_counter()
    for first in range(1, count + 1, 1000):
        async with app.db.transaction() as session:
            rows = [
                (pid, f"base:{pid}", payload) for pid in range(first, min(first + 1000, count + 1))
            ]
            await enqueue_many(session, rows, kind="bench", now=NOW)
    return time.perf_counter() - start


async def main(count: int, server: str, batch: int | None) -> None:
    async with fresh_database(server) as url:
        settings = Settings(database_url=url)  # type: ignore[call-arg]
        if batch:
            settings.checkins.batch_size = batch
        app = App.build(settings, FixedClock(NOW))
        started = time.perf_counter()
        await populate(app, count)
        made = time.perf_counter() - started
        print(f"{app.db.engine.dialect.name}: {count} due alumni generated in {made:.1f} s")

        floor = await baseline(app, count)
        await reset(app)
        started = time.perf_counter()
        queued = await tick_checkins(app)
        took = time.perf_counter() - started
        await reset(app)
        tracemalloc.start()
        await tick_checkins(app)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"bare insert of {count} outbox rows: {floor:.2f} s (baseline)")
        print(
            f"one tick: {queued} check-ins queued in {took:.2f} s"
            f" = {took / floor:.2f}x the baseline;"
            f" target (PostgreSQL) < 5 s: {'met' if took < 5 else 'NOT met'}"
        )
        print(
            f"peak Python memory during a tick: {peak / 2**20:.1f} MiB"
            f" (batches of {app.settings.checkins.batch_size})"
        )
        await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--batch", type=int, default=None, help="checkins.batch_size")
    args = parser.parse_args()
    asyncio.run(main(args.people, args.database_url, args.batch))
