"""Queuing a broadcast to 100,000 people: time and peak memory.

    python bench/broadcast_enqueue.py [--people 100000] [--database-url postgresql://…]

Generates the people (not timed), then queues a broadcast to `all` exactly as the confirm
button and `alumni-bot broadcast` do (storage/broadcasts.enqueue: the segment read by keyset
pages, rows inserted `enqueue_batch_size` at a time, one transaction). Timed once without
instrumentation (target: under 5 s, issue 17), then once more under tracemalloc for the peak Python
memory, which should stay flat as the number of people grows (batched, never all rows)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, text

from bench.fresh_db import fresh_database
from bot.core.clock import FixedClock
from bot.core.settings import Settings
from bot.runtime.app import App
from handlers import broadcasts as feature
from storage import broadcasts as store
from storage.models import Broadcast, OutboxMessage
from storage.outbox import enqueue_many
from tests.support.crowd import add_people

TEXT = "Alumni reunion on Friday!"


async def baseline(app: App, count: int) -> float:
    """The floor: the same number of outbox rows, with a broadcast's payload, bulk-inserted
    (`enqueue_many`, pages of 1,000) with nothing read, checked or built — then removed."""
    payload = feature.payloads(app.catalogs, _draft())["ja"]
    now = app.clock.now()
    started = time.perf_counter()
    async with app.db.transaction() as session:
        for first in range(1, count + 1, 1000):
            rows = [
                (pid, f"base:{pid}", payload) for pid in range(first, min(first + 1000, count + 1))
            ]
            await enqueue_many(session, rows, kind="bench", now=now)
    took = time.perf_counter() - started
    async with app.db.transaction() as session:
        await session.execute(delete(OutboxMessage).where(OutboxMessage.kind == "bench"))
    return took


def _draft() -> Broadcast:
    return Broadcast(text=TEXT, segment="all", urgent=False, buttons=[feature.INTERESTED])


async def queue_once(app: App) -> tuple[int, float]:
    now = app.clock.now()
    started = time.perf_counter()
    async with app.db.transaction() as session:
        item = store.create(
            session,
            author_id=None,
            text=TEXT,
            segment=store.parse_segment("all"),
            urgent=False,
            now=now,
            buttons=[feature.INTERESTED],
        )
        await session.flush()
        queued = await feature.queue(session, app.catalogs, app.settings, item, now)
    return queued, time.perf_counter() - started


async def main(args: argparse.Namespace) -> int:
    async with fresh_database(args.database_url) as url:
        app = App.build(Settings(database_url=url), FixedClock())
        try:
            started = time.perf_counter()
            await add_people(
                app.db,
                args.people,
                app.clock.now(),
                locale=lambda n: "ja" if n % 3 else "en",
                chunk=5000,
            )
            if not app.db.is_sqlite:  # what autovacuum does after a bulk load
                async with app.db.engine.connect() as conn:
                    await conn.execute(text("ANALYZE"))
                    await conn.commit()
            print(f"database        {app.db.engine.dialect.name}")
            made = time.perf_counter() - started
            print(f"people          {args.people} (generated in {made:.1f} s)")
            floor = await baseline(app, args.people)
            print(f"baseline        {args.people} outbox rows bulk-inserted in {floor:.2f} s")
            cpu = time.process_time()
            queued, seconds = await queue_once(app)
            cpu = time.process_time() - cpu
            print(
                f"queued          {queued} in {seconds:.2f} s = {seconds / floor:.2f}x the baseline"
                f" (target < 5 s: {'met' if seconds < 5 else 'NOT met'}; {cpu:.2f} s CPU here)"
            )
            tracemalloc.start()
            again, traced = await queue_once(app)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"peak memory     {peak / 2**20:.1f} MiB of Python objects while queuing {again}")
            print(f"                (second run, under tracemalloc: {traced:.2f} s)")
        finally:
            await app.close()
    return 0 if queued == args.people and seconds < 5 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument(
        "--database-url", default="sqlite", help="a PostgreSQL server URL, or sqlite (default)"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
