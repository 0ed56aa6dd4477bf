"""`alumni-bot worker` as an operator runs it: a real process that runs the scheduled work that
is due (here a check-in) and delivers it through the real Telegram channel, stopped the way a
deploy stops it (SIGTERM)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.cli import main
from bot.core.settings import load_settings
from bot.core.types import Reply
from bot.runtime.app import App
from storage import outbox
from storage.models import OutboxKind, OutboxMessage, OutboxState
from tests.conftest import make_settings
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.support.crowd import add_people
from tests.support.members import member, person, update_person
from tests.support.people import load_company

FAST = """
[delivery]
batch_size = 50

[delivery.limits.telegram]
per_second = 300
chat_per_second = 1
"""


def worker_env(
    database_url: str, api: FakeTelegramAPI, config: Path | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.update(DATABASE_URL=database_url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.api_url)
    if config is not None:
        env["ALUMNI_BOT_CONFIG"] = str(config)
    return env


async def start_worker(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "worker", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def wait_until(predicate: Callable[[], bool], what: str, within_s: float = 60) -> None:
    """Poll observable state (not a timing assertion): fail only after a generous wait."""
    for _ in range(int(within_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {within_s}s: {what}")


async def queue_broadcast(app: App, count: int) -> list[int]:
    """`count` people on Telegram (user ids 7000…), one broadcast message each."""
    now = datetime.now(UTC)
    noon = time(12, 0)  # no quiet hours: the process runs on the real clock
    ids = await add_people(app.db, count, now, prefix="7000", quiet_start=noon, quiet_end=noon)
    async with app.db.transaction() as session:
        for pid in ids:
            await outbox.enqueue(
                session, person_id=pid, reply=Reply(f"hello {pid}"), key=f"b:{pid}",
                kind=OutboxKind.BROADCAST, now=now,
            )  # fmt: skip
    return ids


def hellos(api: FakeTelegramAPI) -> Counter[int]:
    """How many broadcast messages each chat got (check-ins the ticks queue are not counted)."""
    return Counter(
        chat for (chat, _), m in api.messages.items() if str(m.get("text", "")).startswith("hello")
    )


async def test_worker_drain_runs_due_checkins_and_delivers_them(sqlite_url: str) -> None:
    api = FakeTelegramAPI()
    await api.start()
    try:
        app = App.build(make_settings(sqlite_url))
        try:
            await load_company(app)
            await member(app, "hanako@example.com", "101", locale="ja")
            noon = time(12, 0)  # start == end: no quiet hours, whatever the real time is
            await update_person(
                app, "hanako@example.com", quiet_start=noon, quiet_end=noon, timezone="UTC",
                next_checkin_at=datetime.now(UTC) - timedelta(minutes=1),
            )  # fmt: skip  # UTC: no country, so no public holiday; every day works (below)
        finally:
            await app.close()
        api.started.add(101)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
        env.update(DATABASE_URL=sqlite_url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.api_url)
        every_day = Path(sqlite_url.removeprefix("sqlite:///")).with_name("every-day.toml")
        every_day.write_text("[calendar]\nweekend = []\n")  # whatever day the test runs on
        env.update(ALUMNI_BOT_CONFIG=str(every_day))
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "worker", "--drain", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(worker.communicate(), timeout=120)
        assert worker.returncode == 0, err.decode()
        assert any("お元気ですか" in text for text in api.texts(101)), api.texts(101)
        assert "nothing due" in out.decode()
    finally:
        await api.close()


async def test_worker_drain_does_not_say_nothing_due_while_messages_wait_on_leases(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another worker holds 150 messages: `--drain` says so, with one line, and exits 1."""
    api = FakeTelegramAPI()
    await api.start()
    try:
        app = App.build(make_settings(sqlite_url))
        try:
            await load_company(app)
            await member(app, "hanako@example.com", "101", locale="ja")
            hanako = await person(app, "hanako@example.com")
            now = datetime.now(UTC)
            async with app.db.transaction() as session:
                session.add_all(
                    OutboxMessage(
                        idempotency_key=f"held-{n}",
                        person_id=hanako.id,
                        payload={"text": "x"},
                        kind=OutboxKind.BROADCAST,
                        state=OutboxState.SENDING,
                        not_before=now,
                        lease_until=now + timedelta(minutes=5),
                        leased_by="other-worker",
                    )
                    for n in range(150)
                )
        finally:
            await app.close()
        monkeypatch.setenv("DATABASE_URL", sqlite_url)
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_API_URL", api.api_url)
        code = await asyncio.to_thread(main, ["worker", "--drain"])
        err = capsys.readouterr().err.strip()
        assert code == 1 and "\n" not in err
        assert "not drained: 150 messages are leased by another worker" in err
        assert api.texts(101) == []
    finally:
        await api.close()


async def test_sigterm_mid_broadcast_finishes_sends_releases_the_rest_and_exits_0(
    database_url: str, tmp_path: Path
) -> None:
    """What every deploy does: SIGTERM while a broadcast goes out. The worker stops claiming,
    records what it sent, gives back what it claimed but did not send (queued, no lease, so the
    next worker takes it at once rather than after the lease), and exits 0 with one line."""
    api = FakeTelegramAPI()
    await api.start()
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    app = App.build(make_settings(database_url))
    try:
        await queue_broadcast(app, 600)
        users = {int(f"7000{n}") for n in range(600)}
        api.started.update(users)
        env = worker_env(database_url, api, config)
        worker = await start_worker(env)
        output = asyncio.create_task(worker.communicate())  # read its log as it comes
        try:
            await wait_until(lambda: sum(hellos(api).values()) >= 100, "100 messages sent")
        finally:
            worker.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(output, timeout=120)
        log = err.decode()
        assert worker.returncode == 0, log
        sent_first = hellos(api)
        assert all(n == 1 for n in sent_first.values()), "a message was sent twice"
        assert 100 <= len(sent_first) < 600, "the SIGTERM did not come mid-broadcast"
        released = [line for line in log.splitlines() if "back to the queue" in line]
        assert len(released) == 1 and "stopped: released" in released[0], log

        async with app.db.transaction() as session:
            rows = (await session.scalars(select(OutboxMessage))).all()
        hello_rows = [r for r in rows if r.kind == OutboxKind.BROADCAST]
        assert len(hello_rows) == 600
        assert {r.state for r in hello_rows} <= {"sent", "queued"}
        assert sum(r.state == "sent" for r in hello_rows) == len(sent_first)
        waiting = [r for r in hello_rows if r.state == "queued"]
        assert all(r.lease_until is None and r.leased_by is None for r in waiting)
        assert all(r.not_before <= datetime.now(UTC) for r in waiting)  # due at once

        again = await start_worker(env, "--drain")  # the next worker: no lease to wait for
        _, err = await asyncio.wait_for(again.communicate(), timeout=120)
        assert again.returncode == 0, err.decode()
        assert hellos(api) == Counter(dict.fromkeys(users, 1))  # 0 lost, 0 doubled
    finally:
        await app.close()
        await api.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deliveries(metrics: str, channel: str, result: str) -> float:
    line = re.search(
        rf'^alumni_bot_deliveries_total{{channel="{channel}",result="{result}"}} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return float(line.group(1)) if line else 0.0


def test_worker_metrics_port_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().worker_metrics_port is None  # default: no metrics server
    monkeypatch.setenv("WORKER_METRICS_PORT", "9102")
    assert load_settings().worker_metrics_port == 9102
    monkeypatch.setenv("WORKER_METRICS_PORT", "")
    assert load_settings().worker_metrics_port is None


async def test_worker_serves_its_delivery_counts_on_the_metrics_port(
    sqlite_url: str, tmp_path: Path
) -> None:
    """`worker --metrics-port N` (overriding WORKER_METRICS_PORT) serves /metrics: the counts
    of what it delivered are there, which `serve`'s /metrics cannot see."""
    api = FakeTelegramAPI()
    await api.start()
    app = App.build(make_settings(sqlite_url))
    try:
        await queue_broadcast(app, 1)
        api.started.add(70000)
        port = free_port()
        env = worker_env(sqlite_url, api)
        env["WORKER_METRICS_PORT"] = str(free_port())  # the flag wins
        worker = await start_worker(env, "--metrics-port", str(port))
        output = asyncio.create_task(worker.communicate())
        try:
            await wait_until(lambda: sum(hellos(api).values()) >= 1, "the message sent")
            async with httpx.AsyncClient() as client:
                for _ in range(500):  # until the process has counted it (not a timing check)
                    try:
                        response = await client.get(f"http://127.0.0.1:{port}/metrics")
                    except httpx.TransportError:
                        response = None
                    if response is not None and deliveries(response.text, "telegram", "sent"):
                        break
                    await asyncio.sleep(0.05)
            assert response is not None and response.status_code == 200
            assert deliveries(response.text, "telegram", "sent") >= 1, response.text
        finally:
            worker.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(output, timeout=120)
        assert worker.returncode == 0, err.decode()
    finally:
        await app.close()
        await api.close()
