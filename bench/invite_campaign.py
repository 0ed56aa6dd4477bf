"""Invitation campaigns by mail: queuing one to 100,000 people (time and peak memory), and
sustained sending to a local SMTP server at the configured rate.

    python bench/invite_campaign.py [--people 100000] [--mails 150] [--rate 5]
                                    [--database-url postgresql://…]

Queuing: generates `--people` alumni who never joined (not timed), then queues a campaign to
segment `alumni` exactly as `alumni-bot invite --all --yes` does (handlers/invitations.queue:
eligible people read in keyset pages of `delivery.enqueue_batch_size`; per page the mail
contacts, one invite code each, the campaign's invitations and the rendered mails in bulk; one
transaction). Timed plainly (target: under 60 s), then the Python memory peak of a second
campaign over `--people / 10` more, under tracemalloc (bounded by the page size, not by the
number of people). Sending: `--mails` invitations, then the real worker and mail channel
deliver them to aiosmtpd on 127.0.0.1 at `delivery.limits.smtp.per_second = --rate`, in real
time. Prints the sustained rate (first to last arrival) as a ratio of the rate (target ≥ 0.95)
and the lost and duplicated counts (target 0)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from bench.fresh_db import fresh_database
from bot.channels.smtp.channel import MailChannel
from bot.core.clock import FixedClock, SystemClock
from bot.core.settings import ChannelLimit, DeliverySettings, Settings
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from handlers import invitations
from storage.models import Campaign, Person
from tests.fakes.smtp_server import SmtpServer

FROM = "Alumni <alumni@example.com>"


async def add_alumni(app: App, count: int, prefix: str, department: str) -> None:
    now = app.clock.now()
    for start in range(0, count, 5000):
        async with app.db.transaction() as session:
            await session.execute(
                insert(Person),
                [
                    {"email": f"{prefix}{n}@example.com", "name": f"Alum {prefix}{n}",
                     "department": department, "left_on": now.date(), "skills": [],
                     "desired_roles": [], "opt_outs": [], "locale": "ja" if n % 3 else "en",
                     "created_at": now, "updated_at": now}
                    for n in range(start, min(start + 5000, count))
                ],
            )  # fmt: skip
    if not app.db.is_sqlite:
        async with app.db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()


async def campaign(app: App, segment: str) -> tuple[int, float]:
    now = app.clock.now()
    started = time.perf_counter()
    async with app.db.transaction() as session:
        item = Campaign(segment=segment, status="draft", created_at=now)
        session.add(item)
        await session.flush()
        queued = await invitations.queue(session, app.catalogs, app.settings, item, now)
    return queued, time.perf_counter() - started


async def queuing(args: argparse.Namespace) -> bool:
    async with fresh_database(args.database_url) as url:
        settings = Settings(database_url=url, smtp_url="smtp://127.0.0.1:2525", mail_from=FROM)
        app = App.build(settings, FixedClock())
        try:
            started = time.perf_counter()
            await add_alumni(app, args.people, "a", "Sales")
            await add_alumni(app, args.people // 10, "b", "Engineering")
            made = time.perf_counter() - started
            print(f"database        {app.db.engine.dialect.name}")
            more = args.people // 10
            print(f"people          {args.people} + {more} (generated in {made:.1f} s)")
            queued, seconds = await campaign(app, "department:Sales")
            print(f"queued          {queued} invitations in {seconds:.2f} s  (target < 60 s)")
            print(f"                {queued / seconds:.0f} a second")
            tracemalloc.start()
            again, traced = await campaign(app, "department:Engineering")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"peak memory     {peak / 2**20:.1f} MiB of Python objects queuing {again}")
            print(f"                (under tracemalloc: {traced:.2f} s)")
            rerun, _ = await campaign(app, "alumni")
            print(f"run again       {rerun} invited (target 0)")
        finally:
            await app.close()
    return queued == args.people and seconds < 60 and rerun == 0


async def sending(args: argparse.Namespace) -> bool:
    server = SmtpServer()
    server.start()
    try:
        async with fresh_database(args.database_url) as url:
            limits = {"smtp": ChannelLimit(per_second=args.rate, chat_per_second=1)}
            settings = Settings(
                database_url=url,
                smtp_url=server.url,
                mail_from=FROM,
                delivery=DeliverySettings(limits=limits, drain_wait_seconds=5),
            )
            app = App.build(settings, SystemClock())
            try:
                await add_alumni(app, args.mails, "s", "Sales")
                await campaign(app, "alumni")
                channel = MailChannel(app)
                worker = Worker(app, {channel.name: channel}, name="bench")
                started = time.perf_counter()
                await worker.run(drain=True)
                wall = time.perf_counter() - started
                await channel.stop()
            finally:
                await app.close()
    finally:
        server.stop()
    got = Counter(m["To"] for m in server.mailbox.received)
    lost = args.mails - len(got)
    duplicated = sum(n - 1 for n in got.values())
    times = sorted(server.mailbox.arrived)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = (len(times) - 1) / span if span else float("inf")
    print(f"mails           {args.mails} at a limit of {args.rate}/s")
    print(f"sustained rate  {rate:.2f}/s over {span:.1f} s (wall {wall:.1f} s)")
    print(f"ratio to limit  {rate / args.rate:.3f}  (target ≥ 0.95, and not over 1.05)")
    print(f"lost            {lost}")
    print(f"duplicated      {duplicated}")
    return 0.95 <= rate / args.rate <= 1.05 and lost == duplicated == 0


async def main(args: argparse.Namespace) -> int:
    ok = await queuing(args) if args.people else True
    ok = (await sending(args) if args.mails else True) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--mails", type=int, default=150)
    parser.add_argument("--rate", type=float, default=5)
    parser.add_argument(
        "--database-url", default="sqlite", help="a PostgreSQL server URL, or sqlite (default)"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
