"""LINE push throughput through the real channel, against the fake Messaging API's rate.

    python bench/line_push.py [--limit 200] [--messages 2000] [--database-url postgresql://…]

Real time. The fake answers 429 beyond `--limit` pushes a second (LINE's 429 carries no
Retry-After); the worker is configured at that rate. Each message is one push with its
X-Line-Retry-Key, through line-bot-sdk's async client. Prints the sustained rate as a ratio of the
limit, the 429s, and the lost and duplicated counts (both 0), and the month's count in the
database (equal to the pushes)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from datetime import time as clock_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench.fresh_db import fresh_database
from bot.channels.line.channel import LineChannel
from bot.core.clock import SystemClock
from bot.core.settings import ChannelLimit, DeliverySettings, Settings
from bot.core.types import Reply
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from storage import outbox, quota
from storage.models import Identity
from tests.fakes.line_api import SECRET, TOKEN, FakeLineAPI
from tests.support.crowd import add_people

NOON = clock_time(12, 0)


async def main(args: argparse.Namespace) -> int:
    async with fresh_database(args.database_url) as url:
        return await measure(args, url)


async def measure(args: argparse.Namespace, url: str) -> int:
    fake = FakeLineAPI()
    await fake.start()
    fake.push_per_second = args.limit
    clock = SystemClock()
    settings = Settings(
        database_url=url,
        line_channel_secret=SECRET,
        line_channel_access_token=TOKEN,
        line_api_url=fake.api_url,
        delivery=DeliverySettings(
            limits={"line": ChannelLimit(per_second=args.limit, chat_per_second=1)},
            drain_wait_seconds=5,
        ),
    )
    app = App.build(settings, clock)
    ids = await add_people(app.db, args.messages, clock.now(), channel="line", prefix="L",
                           quiet_start=NOON, quiet_end=NOON)  # fmt: skip
    async with app.db.transaction() as session:
        for identity in await session.scalars(select(Identity).where(Identity.channel == "line")):
            identity.user_id = identity.chat_id = f"U{identity.id:032d}"
        await outbox.enqueue_many(
            session,
            [(pid, f"bench:{pid}", Reply(f"お知らせ {pid}").to_dict()) for pid in ids],
            kind="checkin",
            now=clock.now(),
        )
    channel = LineChannel(app)
    await channel.start()
    worker = Worker(app, {"line": channel}, name="bench")
    started = time.perf_counter()
    stats = await worker.run(drain=True)
    wall = time.perf_counter() - started
    await channel.stop()

    counts = Counter(d.to for d in fake.pushes())
    lost = args.messages - len(counts)
    duplicated = sum(n - 1 for n in counts.values())
    too_many = sum(1 for c in fake.calls if c.path == "/v2/bot/message/push") - len(fake.pushes())
    async with app.db.transaction() as session:
        month = (await quota.used(session, ["line"], quota.month_of(clock.now())))["line"]
    rate = len(fake.pushes()) / wall
    print(f"database          {app.db.engine.dialect.name}")
    print(f"messages          {args.messages} at a limit of {args.limit:g}/s")
    print(f"rate              {rate:.1f}/s over {wall:.1f} s")
    print(f"ratio to limit    {rate / args.limit:.3f}")
    print(f"429s received     {too_many} (worker counted {stats.rate_limited})")
    print(f"lost              {lost}")
    print(f"duplicated        {duplicated}")
    print(f"month's count     {month} (pushes accepted: {fake.pushed_this_month})")
    await app.close()
    await fake.close()
    return 0 if lost == duplicated == 0 and month == fake.pushed_this_month else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=200)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument(
        "--database-url", default="sqlite", help="a PostgreSQL server URL, or sqlite (default)"
    )
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments)))
