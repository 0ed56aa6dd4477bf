"""Delivery throughput through the real Telegram channel, against a fake Bot API's rate limit.

    python bench/delivery_throughput.py [--limit 200] [--messages 3000] [--buttons 1]
                                        [--per-chat 1] [--workers 1] [--channel telegram|fake]
                                        [--database-url postgresql://…]

Real time (the system clock, real sleeps). `--messages` people are queued one message each, then
the delivery worker (`bot.runtime.delivery.Worker`, as `worker --drain` runs it) sends them through
`TelegramChannel` (python-telegram-bot over HTTP) to the tests' fake Bot API on 127.0.0.1, which
answers 429 with `retry_after` beyond `--limit` sends a second (a token bucket). The worker is
configured with the same limit. Two passes in fresh databases: the baseline, plain text; then the
same messages with `--buttons` buttons each (every button a token in `button_tokens`, as
check-ins, notices and broadcasts carry). Prints each pass's sustained rate (first to last send)
as a ratio of the limit — the target is ≥ 0.95 for both — and the lost, duplicated and
unhandled-429 counts (all 0), and the CPU this process spent a message (the worker, the channel
and the fake API together: steadier than the rate on a shared machine). `--channel fake` sends
to the in-process fake channel instead (no HTTP, no tokens: the worker's own ceiling).

`--per-chat N` queues N messages to each of `--messages`/N people, and the fake Bot API answers
429 to a second send to one chat within a second (Telegram's per-chat limit): the worker must
pace each chat without holding up the others. Prints the shortest gap between two sends to one
chat (at least 0.9 s, or the fake refused it) and how many 429s the per-chat limit gave; the
ratio is then to the most the chats allow (`min(limit, chats)` a second)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import time as clock_time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench.fresh_db import fresh_database
from bot.channels.telegram.channel import TelegramChannel
from bot.core.channel import Channel, Recipient
from bot.core.clock import SystemClock
from bot.core.settings import ChannelLimit, DeliverySettings, Settings
from bot.core.types import Button, Reply
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from storage import outbox
from storage.models import ButtonToken, OutboxMessage
from tests.fakes.fake_channel import FakeChannel
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.support.crowd import add_people

NOON = clock_time(12, 0)


class SlowFake(FakeChannel):
    latency: float = 0.0

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        await asyncio.sleep(self.latency)
        return await super().send(to, reply)


@dataclass
class Result:
    rate: float
    span: float
    wall: float
    lost: int
    duplicated: int
    too_many: int
    chat_too_many: int  # of those, the per-chat limit's
    chat_gap: float  # the shortest time between two accepted sends to one chat (inf: one each)
    handled: int
    not_sent: int
    tokens: int
    cpu_ms: float  # this process's CPU per message (worker, channel and the fake API)

    @property
    def ok(self) -> bool:
        return self.lost == self.duplicated == self.not_sent == 0


def reply(n: int, k: int, buttons: int) -> Reply:
    row = tuple(Button(f"OK {b}", "bench.ok", f"{n}:{k}:{b}") for b in range(buttons))
    return Reply(f"hello {n}.{k}", buttons=(row,) if row else ())


async def one_pass(args: argparse.Namespace, buttons: int) -> Result:
    async with fresh_database(args.database_url) as url:
        return await measure(args, url, buttons)


async def measure(args: argparse.Namespace, url: str, buttons: int) -> Result:
    api = FakeTelegramAPI()
    await api.start()
    api.send_per_second = args.limit
    api.chat_per_second = 1
    clock = SystemClock()
    limits = {"telegram": ChannelLimit(per_second=args.limit, chat_per_second=1)}
    settings = Settings(
        database_url=url,
        telegram_bot_token=TOKEN,
        telegram_api_url=api.api_url,
        delivery=DeliverySettings(limits=limits, drain_wait_seconds=5),
    )
    apps = [App.build(settings, clock) for _ in range(args.workers)]
    app = apps[0]
    # No quiet hours: the benchmark measures sending, whatever the time of day.
    people = args.messages // args.per_chat
    ids = await add_people(app.db, people, clock.now(), prefix="",
                           quiet_start=NOON, quiet_end=NOON)  # fmt: skip
    for k in range(args.per_chat):  # round by round: each person's k-th message is queued k-th
        async with app.db.transaction() as session:
            await outbox.enqueue_many(
                session,
                [(pid, f"bench:{pid}:{k}", reply(pid, k, buttons).to_dict()) for pid in ids],
                kind="bench",
                now=clock.now(),
            )
    api.started.update(range(0, people))  # user ids 0…N-1 (add_people's numbers)
    fake = SlowFake(clock, per_second=args.limit)  # type: ignore[arg-type]
    fake.latency = args.latency_ms / 1000
    channels: list[Channel] = []
    for a in apps:
        if args.channel == "telegram":
            tg = TelegramChannel(a)
            await tg.start()
            channels.append(tg)
        else:
            channels.append(fake)
    workers = [
        Worker(a, {"telegram": c}, name=f"bench{n}")
        for n, (a, c) in enumerate(zip(apps, channels, strict=True))
    ]
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(w.run(drain=True) for w in workers))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu

    chat_gap, chat_too_many = float("inf"), 0
    if args.channel == "telegram":
        counts = Counter(str(m["text"]) for m in api.messages.values())
        stamps = sorted(api.sent_at)
        too_many, chat_too_many = api.too_many, api.chat_too_many
        gaps = [b - a for t in api.chat_sent_at.values() for a, b in pairwise(t)]
        chat_gap = min(gaps, default=float("inf"))
    else:
        counts = Counter(s.reply.text for s in fake.sent)
        stamps = sorted(s.at.timestamp() for s in fake.sent)
        too_many = fake.too_many
    async with app.db.transaction() as session:
        not_sent = await session.scalar(select(func.count()).where(OutboxMessage.state != "sent"))
        tokens = await session.scalar(select(func.count()).select_from(ButtonToken))
    span = stamps[-1] - stamps[0] if stamps else 0.0
    rate = (len(stamps) - 1) / span if span else float("inf")
    for c in channels:
        if isinstance(c, TelegramChannel):
            await c.stop()
    for a in apps:
        await a.close()
    await api.close()
    return Result(
        rate=rate,
        span=span,
        wall=wall,
        lost=people * args.per_chat - len(counts),
        duplicated=sum(n - 1 for n in counts.values()),
        too_many=too_many,
        chat_too_many=chat_too_many,
        chat_gap=chat_gap,
        handled=sum(w.stats.rate_limited for w in workers),
        not_sent=not_sent or 0,
        tokens=tokens or 0,
        cpu_ms=cpu * 1000 / (people * args.per_chat),
    )


def show(label: str, r: Result, limit: float) -> None:
    print(
        f"{label:<22} {r.rate:6.1f}/s over {r.span:5.1f} s (wall {r.wall:5.1f} s), ratio"
        f" {r.rate / limit:.3f}; lost {r.lost}, duplicated {r.duplicated}, 429s {r.too_many}"
        f" (handled {r.handled}), unhandled {r.too_many - r.handled + r.not_sent},"
        f" tokens {r.tokens}; CPU {r.cpu_ms:.2f} ms a message"
    )
    if r.chat_gap != float("inf"):
        print(
            f"{'':<22} one chat: shortest gap {r.chat_gap:.3f} s,"
            f" 429s from the per-chat limit {r.chat_too_many}"
        )


async def main(args: argparse.Namespace) -> int:
    base = await one_pass(args, 0)
    with_buttons = await one_pass(args, args.buttons) if args.buttons else None
    db = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
    print(f"database          {db}, {args.workers} worker(s), channel {args.channel}")
    people = args.messages // args.per_chat
    # At one a second per chat, fewer chats than the limit cannot fill it.
    ceiling = min(args.limit, float(people))
    print(
        f"messages          {people * args.per_chat} at a limit of {args.limit:g}/s,"
        f" {args.per_chat} to each of {people} chats (1 a second per chat):"
        f" at most {ceiling:g}/s"
    )
    show("plain text (baseline)", base, ceiling)
    results = [base]
    if with_buttons is not None:
        show(f"{args.buttons} button(s)", with_buttons, ceiling)
        print(
            f"buttons / plain   rate {with_buttons.rate / base.rate:.3f},"
            f" CPU {with_buttons.cpu_ms / base.cpu_ms:.3f}"
        )
        results.append(with_buttons)
    print(
        "target            ratio ≥ 0.95 of the most possible; nothing lost, duplicated, unhandled"
    )
    ok = all(r.ok and r.rate / ceiling >= 0.95 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=200)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--buttons", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=20, help="--channel fake only")
    parser.add_argument("--per-chat", type=int, default=1, help="messages to each person")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--channel", choices=("telegram", "fake"), default="telegram")
    parser.add_argument(
        "--database-url", default="sqlite", help="a PostgreSQL server URL, or sqlite (default)"
    )
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments)))
