"""The outbox worker against a fake platform: exactly once, 429s honoured, several workers,
a killed worker, quiet hours and pause, unreachable identities, retries. Time is a FixedClock
moved by `VirtualSleep`; nothing here sleeps."""

from __future__ import annotations

import asyncio
import itertools
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from bot.core.channel import Channel, Recipient
from bot.core.clock import FixedClock
from bot.core.settings import ChannelLimit, DeliverySettings
from bot.core.types import Reply
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from bot.runtime.delivery_rules import quiet_until
from storage import delivery as store
from storage import outbox
from storage.models import Identity, OutboxMessage, Person
from tests.conftest import _truncate, make_settings
from tests.fakes.fake_channel import FakeChannel, VirtualSleep
from tests.support.crowd import add_identity, add_people


def delivery(per_second: float = 1000, **overrides: Any) -> DeliverySettings:
    limits = {
        "telegram": ChannelLimit(per_second=per_second, chat_per_second=1),
        "slack": ChannelLimit(per_second=per_second, per_workspace=True, chat_per_second=1),
    }
    return DeliverySettings(limits=limits, **overrides)


def build(url: str, clock: FixedClock, **overrides: Any) -> App:
    return App.build(make_settings(url, delivery=delivery(**overrides)), clock)


@pytest.fixture
async def fast_app(database_url: str, clock: FixedClock) -> AsyncIterator[App]:
    app = build(database_url, clock)
    yield app
    await app.close()


async def queue(app: App, ids: list[int], tag: str = "m", **kwargs: Any) -> None:
    now = app.clock.now()
    async with app.db.transaction() as session:
        for pid in ids:
            await outbox.enqueue(
                session,
                person_id=pid,
                reply=Reply(f"hello {pid}"),
                key=f"{tag}:{pid}",
                kind=kwargs.pop("kind", "notice"),
                now=now,
                **kwargs,
            )


async def states(app: App) -> dict[str, int]:
    async with app.db.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        )
        return {state: n for state, n in rows.all()}


async def drain(app: App, *channels: Channel, sleep: VirtualSleep | None = None) -> Worker:
    assert isinstance(app.clock, FixedClock)
    worker = Worker(app, {c.name: c for c in channels}, sleep=sleep or VirtualSleep(app.clock))
    await worker.run(drain=True)
    assert worker.stats.errors == 0
    return worker


async def test_2000_messages_each_delivered_exactly_once_within_the_limit(
    database_url: str, clock: FixedClock
) -> None:
    app = build(database_url, clock, per_second=400)
    try:
        ids = await add_people(app.db, 2000, clock.now())
        await queue(app, ids)
        await queue(app, ids)  # enqueuing the same logical messages again is a no-op
        fake = FakeChannel(clock, per_second=400)
        start = clock.now()
        worker = await drain(app, fake)
        assert fake.per_user() == {f"u{n}": 1 for n in range(2000)}
        assert await states(app) == {"sent": 2000}
        assert fake.too_many == 0 and worker.stats.reclaimed == 0
        # 2000 at 400/s: the fake's one-second burst allowance, then the rate.
        assert (clock.now() - start).total_seconds() >= 2000 / 400 - 1.01
    finally:
        await app.close()


async def test_429s_pause_the_channel_and_every_message_is_retried(
    sqlite_app: App, clock: FixedClock
) -> None:
    app = build(str(sqlite_app.settings.database_url), clock, per_second=100)
    try:
        ids = await add_people(app.db, 300, clock.now())
        await queue(app, ids)
        fake = FakeChannel(clock, per_second=20)  # the platform allows less than configured
        start = clock.now()
        worker = await drain(app, fake)
        assert fake.per_user() == {f"u{n}": 1 for n in range(300)}
        assert fake.too_many > 0 and worker.stats.rate_limited == fake.too_many
        assert fake.ignored_429 == 0  # nothing was sent while a retry_after ran
        assert (clock.now() - start).total_seconds() >= (300 - 20) / 20 - 0.01
        assert await states(app) == {"sent": 300}
    finally:
        await app.close()


async def test_a_429_for_one_chat_only_delays_that_chat(sqlite_app: App, clock: FixedClock) -> None:
    app = build(str(sqlite_app.settings.database_url), clock, per_second=100)
    app.settings.delivery.limits["telegram"].chat_per_second = 50  # misconfigured: too fast
    try:
        ids = await add_people(app.db, 3, clock.now())
        for tag in ("a", "b", "c"):
            await queue(app, ids[:1], tag=tag)
        await queue(app, ids[1:], tag="a")
        fake = FakeChannel(clock, chat_interval=1.0)
        await drain(app, fake)
        times = sorted(s.at for s in fake.sent if s.to.user_id == "u0")
        assert len(times) == 3 and fake.too_many > 0
        assert all(b - a >= timedelta(seconds=1) for a, b in itertools.pairwise(times))
        assert fake.per_user()["u1"] == fake.per_user()["u2"] == 1
    finally:
        await app.close()


async def test_two_workers_on_postgresql_share_the_work_without_doubles(
    pg_url: str, clock: FixedClock
) -> None:
    await _truncate(pg_url)
    first = build(pg_url, clock, per_second=500, batch_size=40)
    second = build(pg_url, clock, per_second=500, batch_size=40)  # its own engine and pool
    try:
        ids = await add_people(first.db, 1200, clock.now())
        await queue(first, ids)
        fake = FakeChannel(clock, per_second=500)
        sleep = VirtualSleep(clock)
        workers = [
            Worker(app, {"telegram": fake}, name=f"w{n}", sleep=sleep)
            for n, app in enumerate((first, second))
        ]
        await asyncio.gather(*(w.run(drain=True) for w in workers))
        assert fake.per_user() == {f"u{n}": 1 for n in range(1200)}
        assert all(w.stats.sent > 100 for w in workers), [w.stats for w in workers]
        assert sum(w.stats.sent for w in workers) == 1200
        assert fake.too_many == 0  # the rate limit is shared, not per worker
        async with first.db.transaction() as session:
            by = await session.execute(
                select(OutboxMessage.leased_by, func.count()).group_by(OutboxMessage.leased_by)
            )
            assert {name for name, _ in by.all()} <= {"w0", "w1"}
    finally:
        await first.close()
        await second.close()


class Hangs:
    """A platform that stops answering after `after` messages (the worker is then killed)."""

    def __init__(self, fake: FakeChannel, after: int) -> None:
        self.fake, self.after, self.name = fake, after, fake.name
        self.stuck = asyncio.Event()

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        if len(self.fake.sent) >= self.after:
            self.stuck.set()
            await asyncio.Event().wait()
        return await self.fake.send(to, reply)


async def test_a_worker_killed_mid_batch_loses_nothing(fast_app: App, clock: FixedClock) -> None:
    ids = await add_people(fast_app.db, 500, clock.now())
    await queue(fast_app, ids)
    fake = FakeChannel(clock)
    hangs = Hangs(fake, after=230)
    victim = Worker(fast_app, {"telegram": hangs}, name="victim", sleep=VirtualSleep(clock))  # type: ignore[dict-item]
    task = asyncio.create_task(victim.run())
    await hangs.stuck.wait()
    task.cancel()  # like SIGKILL: no chance to give the leases back
    with pytest.raises(asyncio.CancelledError):
        await task
    leased = (await states(fast_app)).get("sending", 0)
    assert leased > 0

    clock.advance(seconds=fast_app.settings.delivery.lease_seconds + 1)
    rescuer = await drain(fast_app, fake)
    counts = fake.per_user()
    assert set(counts) == {f"u{n}" for n in range(500)}  # nothing lost
    doubles = sum(n - 1 for n in counts.values())
    assert doubles <= rescuer.stats.reclaimed == leased  # duplicates bounded and counted
    assert await states(fast_app) == {"sent": 500}


@pytest.mark.parametrize("failures", [3, 12])
async def test_a_failed_result_write_is_retried_and_nothing_is_sent_twice(
    database_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, failures: int
) -> None:
    """The database refuses the first writes of `sent` outcomes (3: within one write's retries;
    12: over several writes, while more batches go out). What was sent stays in memory until it
    is written: every message reaches the platform once and ends `sent`, none is claimed again."""
    app = build(database_url, clock, batch_size=50)
    try:
        ids = await add_people(app.db, 200, clock.now())
        await queue(app, ids)
        real = store.write_outcomes
        refused: list[int] = []

        async def flaky(session: Any, rows: Any) -> None:
            if len(refused) < failures and any(r["state"] == "sent" for r in rows):
                refused.append(len(rows))
                raise OperationalError("UPDATE outbox", {}, Exception("connection reset"))
            await real(session, rows)

        monkeypatch.setattr(store, "write_outcomes", flaky)
        fake = FakeChannel(clock)
        worker = await drain(app, fake)
        assert len(refused) == failures and worker.stats.write_failures == failures
        assert fake.per_user() == {f"u{n}": 1 for n in range(200)}  # each sent exactly once
        assert await states(app) == {"sent": 200}
        assert worker.stats.reclaimed == 0 and worker.stats.sent == 200
        assert not worker.outcomes
    finally:
        await app.close()


async def test_quiet_hours_hold_a_message_until_morning_in_the_recipients_zone(
    sqlite_app: App, clock: FixedClock
) -> None:
    app = sqlite_app
    clock.current = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)  # 22:30 in Tokyo
    tokyo = await add_people(app.db, 1, clock.now(), prefix="tokyo", timezone="Asia/Tokyo")
    london = await add_people(app.db, 1, clock.now(), prefix="ldn", timezone="Europe/London")
    await queue(app, tokyo + london)
    await queue(app, tokyo, tag="urgent", urgent=True)
    fake = FakeChannel(clock)
    await drain(app, fake)
    assert sorted((s.to.user_id, s.reply.text) for s in fake.sent) == [
        ("ldn0", f"hello {london[0]}"),  # 13:30 in London
        ("tokyo0", f"hello {tokyo[0]}"),  # the urgent one
    ]
    async with app.db.transaction() as session:
        held = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.state == "queued"))
        ).one()
    assert held.not_before == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo

    clock.current = datetime(2026, 11, 24, 22, 50, tzinfo=UTC)  # 07:50
    await drain(app, fake)
    assert len(fake.sent) == 2
    clock.current = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    await drain(app, fake)
    assert len(fake.sent) == 3 and await states(app) == {"sent": 3}


async def test_a_paused_person_gets_their_messages_after_resuming(
    sqlite_app: App, clock: FixedClock
) -> None:
    ids = await add_people(sqlite_app.db, 2, clock.now(), paused=lambda n: n == 0)
    await queue(sqlite_app, ids)
    fake = FakeChannel(clock)
    await drain(sqlite_app, fake)  # returns: a paused person's message is not due
    assert fake.per_user() == {"u1": 1}
    async with sqlite_app.db.transaction() as session:
        await session.execute(update(Person).values(paused=False))
    await drain(sqlite_app, fake)
    assert fake.per_user() == {"u0": 1, "u1": 1}


async def test_a_blocked_user_is_marked_unreachable_after_one_error(
    fast_app: App, clock: FixedClock
) -> None:
    ids = await add_people(fast_app.db, 2, clock.now())
    await add_identity(fast_app.db, ids[1], "slack", "U1", clock.now(), priority=5)
    await queue(fast_app, ids)
    telegram, slack = FakeChannel(clock), FakeChannel(clock, name="slack")
    telegram.block("u0")
    telegram.block("u1")
    worker = await drain(fast_app, telegram, slack)
    assert telegram.calls == 2 and worker.stats.unreachable == 2
    assert [s.to.user_id for s in slack.sent] == ["U1"]  # the next identity took over
    async with fast_app.db.transaction() as session:
        gone = await session.scalars(select(Identity).where(Identity.reachable.is_(False)))
        assert sorted(i.user_id for i in gone) == ["u0", "u1"]
        dead = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.state == "dead"))
        ).one()
        assert dead.person_id == ids[0] and dead.last_error
        assert dead.last_error.startswith("unreachable") and "blocked" in dead.last_error

    await queue(fast_app, ids[:1], tag="again")  # no further attempt on a blocked identity
    await drain(fast_app, telegram, slack)
    assert telegram.calls == 2


async def test_network_errors_back_off_and_then_deliver(sqlite_app: App, clock: FixedClock) -> None:
    ids = await add_people(sqlite_app.db, 1, clock.now())
    await queue(sqlite_app, ids)
    fake = FakeChannel(clock, flaky=3)
    start = clock.now()
    worker = await drain(sqlite_app, fake)
    assert fake.per_user() == {"u0": 1} and worker.stats.retried == 3
    base = sqlite_app.settings.delivery.backoff_base_seconds
    assert (clock.now() - start).total_seconds() >= (base + 2 * base + 4 * base) / 2
    async with sqlite_app.db.transaction() as session:
        row = (await session.scalars(select(OutboxMessage))).one()
    assert row.state == "sent" and row.attempts == 4


async def test_network_errors_give_up_after_max_attempts(
    sqlite_app: App, clock: FixedClock
) -> None:
    app = build(
        str(sqlite_app.settings.database_url), clock, max_attempts=3, drain_wait_seconds=3600
    )
    try:
        ids = await add_people(app.db, 1, clock.now())
        await queue(app, ids)
        fake = FakeChannel(clock, flaky=10)
        await drain(app, fake)
        assert fake.calls == 3 and await states(app) == {"dead": 1}
    finally:
        await app.close()


async def test_the_console_inbox_is_only_for_someone_reachable_nowhere_else(
    sqlite_app: App, clock: FixedClock
) -> None:
    from bot.channels.console.channel import ConsoleChannel, take_unread

    only_console = await add_people(sqlite_app.db, 1, clock.now(), channel="console", prefix="c")
    both = await add_people(sqlite_app.db, 1, clock.now(), prefix="t")
    await add_identity(sqlite_app.db, both[0], "console", "t0@example.com", clock.now(), 1000)
    await queue(sqlite_app, only_console + both)
    console = ConsoleChannel(sqlite_app)
    await drain(sqlite_app, console)  # a worker without Telegram
    # the console person has it; the Telegram person's message waits for Telegram
    assert await states(sqlite_app) == {"sent": 1, "queued": 1}
    fake = FakeChannel(clock)
    clock.advance(minutes=10)
    await drain(sqlite_app, fake, console)
    assert await states(sqlite_app) == {"sent": 2}
    assert [s.reply.text for s in fake.sent] == [f"hello {both[0]}"]
    async with sqlite_app.db.transaction() as session:
        rows = await session.execute(select(Identity.id, Identity.person_id))
        identity_of = {pid: iid for iid, pid in rows.all() if pid in only_console}
    inbox = await take_unread(sqlite_app.db, identity_of[only_console[0]], clock.now())
    assert [reply.text for _, reply in inbox] == [f"hello {only_console[0]}"]
    assert await take_unread(sqlite_app.db, identity_of[only_console[0]], clock.now()) == []


@pytest.mark.parametrize(
    ("zone", "utc", "expected"),
    [
        ("Asia/Tokyo", datetime(2026, 11, 24, 13, 30), datetime(2026, 11, 24, 23, 0)),
        ("Asia/Tokyo", datetime(2026, 11, 24, 22, 59), datetime(2026, 11, 24, 23, 0)),
        ("Asia/Tokyo", datetime(2026, 11, 24, 23, 0), None),
        ("Asia/Tokyo", datetime(2026, 11, 24, 11, 59), None),  # 20:59
        # The night the clocks go back in London: 08:00 GMT is 08:00 UTC.
        ("Europe/London", datetime(2026, 10, 24, 22, 0), datetime(2026, 10, 25, 8, 0)),
        # In summer 08:00 BST is 07:00 UTC.
        ("Europe/London", datetime(2026, 7, 1, 20, 30), datetime(2026, 7, 2, 7, 0)),
    ],
)
def test_quiet_until(sqlite_app: App, zone: str, utc: datetime, expected: datetime | None) -> None:
    person = Person(timezone=zone, quiet_start=None, quiet_end=None)
    got = quiet_until(person, sqlite_app.settings, utc.replace(tzinfo=UTC))
    assert got == (expected.replace(tzinfo=UTC) if expected else None)


def test_own_quiet_hours_within_one_day(sqlite_app: App) -> None:
    person = Person(timezone="UTC", quiet_start=time(12, 0), quiet_end=time(13, 0))
    noon = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    assert quiet_until(person, sqlite_app.settings, noon) == noon.replace(hour=13, minute=0)
    assert quiet_until(person, sqlite_app.settings, noon.replace(hour=14)) is None


async def test_delivery_through_the_real_telegram_channel_with_its_429s(
    sqlite_url: str, clock: FixedClock
) -> None:
    """The real TelegramChannel over HTTP against the fake Bot API, which answers 429s with
    retry_after and 403 for a user who blocked the bot."""
    from bot.channels.telegram.channel import TelegramChannel
    from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

    api = FakeTelegramAPI()
    await api.start()
    settings = make_settings(
        sqlite_url, telegram_bot_token=TOKEN, telegram_api_url=api.api_url, delivery=delivery()
    )
    app = App.build(settings, clock)
    channel = TelegramChannel(app)
    try:
        ids = await add_people(app.db, 12, clock.now(), prefix="7000")
        users = [int(f"7000{n}") for n in range(12)]
        api.started.update(users[1:])
        api.blocked.add(users[0])
        await queue(app, ids)
        api.fail_next("sendMessage", 429, retry_after=3)
        api.fail_next("sendMessage", 429, retry_after=3)
        await channel.start()
        start = clock.now()
        worker = await drain(app, channel)
        delivered = [chat for chat, _ in api.messages]
        assert sorted(delivered) == users[1:]  # each once, none lost to the 429s
        assert worker.stats.rate_limited == 2 and worker.stats.unreachable == 1
        assert (clock.now() - start).total_seconds() >= 3  # the channel waited retry_after
        assert await states(app) == {"sent": 11, "dead": 1}
        async with app.db.transaction() as session:
            blocked = (
                await session.scalars(select(Identity).where(Identity.reachable.is_(False)))
            ).one()
            assert blocked.user_id == str(users[0]) and "blocked" in (
                blocked.unreachable_reason or ""
            )
    finally:
        await channel.stop()
        await app.close()
        await api.close()


ROOT = Path(__file__).resolve().parent.parent


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


@pytest.mark.processes
async def test_a_worker_process_killed_with_sigkill_is_finished_by_the_next(
    database_url: str, tmp_path: Path
) -> None:
    """A real process, really killed mid-run: its leased rows come back after the lease and are
    sent by the next worker; what it had sent but not yet recorded goes out twice, counted."""
    start = datetime.now(UTC)
    clock = FixedClock(start)
    app = build(database_url, clock)
    record = tmp_path / "sent.txt"
    record.touch()
    try:
        noon = time(12, 0)  # no quiet hours: the process runs on the real clock
        ids = await add_people(app.db, 600, start, quiet_start=noon, quiet_end=noon)
        await queue(app, ids)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.fakes.worker_process", database_url, str(record),
            cwd=ROOT,
        )  # fmt: skip
        try:
            for _ in range(3000):  # up to a minute for the process's progress; not a timing
                if len(lines(record)) >= 150:
                    break
                await asyncio.sleep(0.02)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        sent_before = lines(record)
        assert 150 <= len(sent_before) < 600
        leased = (await states(app)).get("sending", 0)

        clock.current = datetime.now(UTC) + timedelta(seconds=app.settings.delivery.lease_seconds)
        fake = FakeChannel(clock)
        rescuer = await drain(app, fake)
        counts = Counter(sent_before) + fake.per_user()
        assert set(counts) == {f"u{n}" for n in range(600)}  # nothing lost
        doubles = sum(n - 1 for n in counts.values())
        assert doubles <= rescuer.stats.reclaimed == leased <= 2 * 50  # bounded by in flight
        assert await states(app) == {"sent": 600}
    finally:
        await app.close()


async def test_at_most_two_proactive_messages_a_week_and_check_ins_go_first(
    sqlite_app: App, clock: FixedClock
) -> None:
    """Two job notices reach Hanako on Monday; the perk and the event announcement wait a week
    from the first; the check-in and an urgent broadcast go at once."""
    [pid] = await add_people(sqlite_app.db, 1, clock.now(), prefix="hanako")
    fake = FakeChannel(clock)
    await queue(sqlite_app, [pid], tag="job1", kind="job")
    await queue(sqlite_app, [pid], tag="job2", kind="job")
    await drain(sqlite_app, fake)
    first = min(s.at for s in fake.sent)  # the first job notice (the second a second later)
    clock.advance(days=1)
    for tag, kind in (("perk", "perk"), ("event", "event"), ("checkin", "checkin")):
        await queue(sqlite_app, [pid], tag=tag, kind=kind)
    await queue(sqlite_app, [pid], tag="news", kind="broadcast", urgent=True)
    worker = await drain(sqlite_app, fake)
    assert worker.stats.capped == 2 and len(fake.sent) == 4  # 2 jobs, the check-in, the urgent
    async with sqlite_app.db.transaction() as session:
        waiting = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.state == "queued"))
        ).all()
    assert sorted(m.kind for m in waiting) == ["event", "perk"]
    assert {m.not_before for m in waiting} == {first + timedelta(days=7)}
    clock.current = first + timedelta(days=7)
    await drain(sqlite_app, fake)
    assert len(fake.sent) == 5  # one a week more: the second job has not aged out yet


async def test_someone_who_wants_fewer_notices_gets_one_a_week(
    sqlite_app: App, clock: FixedClock
) -> None:
    [fewer, normal] = await add_people(sqlite_app.db, 2, clock.now(), prefix="p")
    async with sqlite_app.db.transaction() as session:
        await session.execute(update(Person).where(Person.id == fewer).values(notices="fewer"))
    for tag in ("job1", "job2"):
        await queue(sqlite_app, [fewer, normal], tag=tag, kind="job")
    fake = FakeChannel(clock)
    await drain(sqlite_app, fake)
    assert fake.per_user() == {"p0": 1, "p1": 2}
