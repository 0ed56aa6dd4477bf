"""Delivery throughput against a fake platform that allows LIMIT messages a second.

    python bench/delivery_throughput.py [--limit 200] [--messages 3000] [--latency-ms 20]
                                        [--workers 1] [--database-url postgresql://…]

Real time (the system clock, real sleeps). The worker is configured with the platform's limit;
the fake answers 429 (with retry_after) to anything beyond its token bucket, and answers each
call after `--latency-ms`. Prints the sustained rate (first to last send) as a ratio of the
limit — the target is ≥ 0.95 — and the lost, duplicated and unhandled-429 counts (all 0)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import time as clock_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench.fresh_db import fresh_database
from bot.core.channel import Recipient
from bot.core.clock import SystemClock
from bot.core.settings import ChannelLimit, DeliverySettings, Settings
from bot.core.types import Reply
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from storage import outbox
from storage.models import OutboxMessage
from tests.fakes.fake_channel import FakeChannel
from tests.support.crowd import add_people

NOON = clock_time(12, 0)


class SlowFake(FakeChannel):
    latency: float = 0.0

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        await asyncio.sleep(self.latency)
        return await super().send(to, reply)


async def main(args: argparse.Namespace) -> int:
    async with fresh_database(args.database_url) as url:
        return await measure(args, url)


async def measure(args: argparse.Namespace, url: str) -> int:
    clock = SystemClock()
    limits = {"telegram": ChannelLimit(per_second=args.limit, chat_per_second=1)}
    settings = Settings(
        database_url=url,
        delivery=DeliverySettings(limits=limits, drain_wait_seconds=5),
    )
    apps = [App.build(settings, clock) for _ in range(args.workers)]
    app = apps[0]
    # No quiet hours: the benchmark measures sending, whatever the time of day.
    ids = await add_people(app.db, args.messages, clock.now(), quiet_start=NOON, quiet_end=NOON)
    async with app.db.transaction() as session:
        await outbox.enqueue_many(
            session,
            [(pid, f"bench:{pid}", Reply(f"hello {pid}").to_dict()) for pid in ids],
            kind="bench",
            now=clock.now(),
        )
    fake = SlowFake(clock, per_second=args.limit)  # type: ignore[arg-type]
    fake.latency = args.latency_ms / 1000
    workers = [Worker(a, {"telegram": fake}, name=f"bench{n}") for n, a in enumerate(apps)]
    started = time.perf_counter()
    await asyncio.gather(*(w.run(drain=True) for w in workers))
    wall = time.perf_counter() - started

    counts = fake.per_user()
    lost = args.messages - len(counts)
    duplicated = sum(n - 1 for n in counts.values())
    async with app.db.transaction() as session:
        not_sent = await session.scalar(select(func.count()).where(OutboxMessage.state != "sent"))
    times = sorted(s.at for s in fake.sent)
    span = (times[-1] - times[0]).total_seconds()
    rate = (len(times) - 1) / span if span else float("inf")
    handled = sum(w.stats.rate_limited for w in workers)
    print(f"database          {app.db.engine.dialect.name}, {args.workers} worker(s)")
    print(
        f"messages          {args.messages} at a limit of {args.limit}/s,"
        f" latency {args.latency_ms} ms"
    )
    print(f"sustained rate    {rate:.1f}/s over {span:.1f} s (wall {wall:.1f} s)")
    print(f"ratio to limit    {rate / args.limit:.3f}  (target ≥ 0.95)")
    print(f"lost              {lost}")
    print(f"duplicated        {duplicated}")
    print(f"429s received     {fake.too_many} (handled and retried: {handled})")
    print(f"unhandled 429     {fake.too_many - handled + (not_sent or 0)}")
    for a in apps:
        await a.close()
    ok = rate / args.limit >= 0.95 and lost == duplicated == 0 and not not_sent
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=200)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--database-url", default="sqlite", help="a PostgreSQL server URL, or sqlite (default)"
    )
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments)))
