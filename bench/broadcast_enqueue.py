"""Queuing a broadcast to 100,000 people: time and peak memory.

    python bench/broadcast_enqueue.py [--people 100000] [--database-url postgresql://…]

Generates the people (not timed), then queues a broadcast to `all` exactly as the confirm
button and `alumni-bot broadcast` do (storage/broadcasts.enqueue: the segment read by keyset
pages, rows inserted `enqueue_batch_size` at a time, one transaction). Timed once without
instrumentation (target: under 10 s), then once more under tracemalloc for the peak Python
memory, which should stay flat as the number of people grows (batched, never all rows)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.fresh_db import fresh_database
from bot.core.clock import FixedClock
from bot.core.settings import Settings
from bot.runtime.app import App
from handlers import broadcasts as feature
from storage import broadcasts as store
from tests.support.crowd import add_people


async def queue_once(app: App) -> tuple[int, float]:
    now = app.clock.now()
    started = time.perf_counter()
    async with app.db.transaction() as session:
        item = store.create(
            session,
            author_id=None,
            text="Alumni reunion on Friday!",
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
            queued, seconds = await queue_once(app)
            print(f"queued          {queued} in {seconds:.2f} s  (target < 10 s)")
            tracemalloc.start()
            again, traced = await queue_once(app)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"peak memory     {peak / 2**20:.1f} MiB of Python objects while queuing {again}")
            print(f"                (second run, under tracemalloc: {traced:.2f} s)")
        finally:
            await app.close()
    return 0 if queued == args.people and seconds < 10 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument(
        "--database-url", default="sqlite", help="a PostgreSQL server URL, or sqlite (default)"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
