"""`alumni-bot serve` as a deploy treats it: a real process, killed with SIGKILL in the middle of a
burst of Telegram updates or Slack events, then started again. Every one that got a 200 is
answered (the inbox kept it), and one answered twice was being handled at the kill."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.slack_api import TOKEN as SLACK_TOKEN
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, TgUser
from tests.support.slack_workspace import SECRET as SLACK_SECRET
from tests.support.slack_workspace import signature
from tests.test_worker import free_port, wait_until

SECRET = "crash-test-secret"
PEOPLE = 150
LEASE_S = 3
CONCURRENCY = 8  # the inbox's default: at most this many are being handled at once


def serve_env(
    database_url: str, api: FakeTelegramAPI, port: int, tmp: Path, concurrency: int = CONCURRENCY
) -> dict[str, str]:
    config = tmp / "serve.toml"  # a killed process's leases end soon
    config.write_text(f"[inbox]\nlease_seconds = {LEASE_S}\nconcurrency = {concurrency}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.update(
        DATABASE_URL=database_url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.api_url,
        TELEGRAM_WEBHOOK_SECRET=SECRET, PORT=str(port), PUBLIC_URL="",
        ALUMNI_BOT_CONFIG=str(config),
    )  # fmt: skip
    return env


def answers(api: FakeTelegramAPI) -> Counter[int]:
    """Messages each chat has received (stored by the fake once the send went through)."""
    return Counter(chat for chat, _ in api.messages)


async def start_serve(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    async with httpx.AsyncClient() as client:
        for _ in range(1500):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            if process.returncode is not None:
                raise AssertionError(f"serve exited with {process.returncode}")
            await asyncio.sleep(0.02)
    raise AssertionError("serve did not start")


async def restart_and_check(
    what: str,
    env: dict[str, str],
    port: int,
    acknowledged: set[Any],
    answered: Callable[[], Counter[Any]],
) -> asyncio.subprocess.Process:
    """After the SIGKILL: the kill came mid-burst and left work undone; a new `serve` answers
    every acknowledged one, and no more than were in flight twice. Returns the new process."""
    before = set(answered())
    assert len(acknowledged) < PEOPLE, "the kill did not come mid-burst"
    assert not acknowledged <= before, "nothing was left to handle after the kill"
    serve = await start_serve(env, port)
    await wait_until(lambda: acknowledged <= set(answered()), "every 2xx one answered")
    twice = [who for who, n in answered().items() if n > 1]
    assert len(twice) <= CONCURRENCY, f"{len(twice)} answered twice"
    print(
        f"\n{what} serve SIGKILL: {len(acknowledged)} of {PEOPLE} acknowledged, "
        f"{len(acknowledged - before)} answered only after the restart, {len(twice)} twice"
    )
    return serve


async def test_serve_killed_mid_burst_answers_every_acknowledged_update_after_restart(
    database_url: str, tmp_path: Path
) -> None:
    api = FakeTelegramAPI()
    await api.start()
    api.send_delay = 0.05  # a loaded platform: answers lag behind what is acknowledged
    port = free_port()
    env = serve_env(database_url, api, port, tmp_path)
    users = [TgUser(8000 + n, f"P{n}", "en") for n in range(PEOPLE)]
    updates = {user.id: api.private(user, "/help") for user in users}
    acknowledged: set[int] = set()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    serve = await start_serve(env, port)
    try:
        async with httpx.AsyncClient(timeout=10) as client:

            async def post(user_id: int) -> None:
                try:
                    response = await client.post(url, json=updates[user_id], headers=headers)
                except httpx.TransportError:
                    return  # killed: not acknowledged, Telegram would send it again
                if response.status_code == 200:
                    acknowledged.add(user_id)

            burst = [asyncio.create_task(post(user.id)) for user in users]
            await wait_until(lambda: len(acknowledged) >= PEOPLE // 3, "a third acknowledged")
            serve.send_signal(signal.SIGKILL)
            await serve.wait()
            await asyncio.gather(*burst)
        serve = await restart_and_check("telegram", env, port, acknowledged, lambda: answers(api))
    finally:
        if serve.returncode is None:
            serve.send_signal(signal.SIGTERM)
            await asyncio.wait_for(serve.wait(), timeout=60)
        await api.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_serve_stops_cleanly_and_gives_back_what_it_did_not_handle(
    database_url: str, sig: signal.Signals, tmp_path: Path
) -> None:
    """A deploy's SIGTERM (or Ctrl-C): serve exits 0, nothing acknowledged is lost and nothing is
    answered twice; what it had not handled is handled by the next process."""
    api = FakeTelegramAPI()
    await api.start()
    api.send_delay = 0.2  # handling lags: at the signal, most are still to do
    port = free_port()
    env = serve_env(database_url, api, port, tmp_path, concurrency=2)  # 3 s of work in all
    users = [TgUser(9000 + n, f"Q{n}", "en") for n in range(30)]
    serve = await start_serve(env, port)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for user in users:
                response = await client.post(
                    f"http://127.0.0.1:{port}/telegram/webhook",
                    json=api.private(user, "/help"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                assert response.status_code == 200
        serve.send_signal(sig)
        assert await asyncio.wait_for(serve.wait(), timeout=60) == 0
        first = answers(api)
        assert first and all(n == 1 for n in first.values())
        assert len(first) < len(users), "everything was handled before the signal"
        serve = await start_serve(env, port)
        await wait_until(
            lambda: {u.id for u in users} <= set(answers(api)), "all answered by the next process"
        )
        assert all(n == 1 for n in answers(api).values())
    finally:
        if serve.returncode is None:
            serve.send_signal(signal.SIGTERM)
            await asyncio.wait_for(serve.wait(), timeout=60)
        await api.close()


async def test_serve_killed_mid_burst_answers_every_acknowledged_slack_event(
    database_url: str, tmp_path: Path
) -> None:
    api = FakeSlackAPI()
    users = [f"U8{n:04d}" for n in range(PEOPLE)]
    for user in users:
        api.add_user(user, user)
    await api.start()
    api.post_delay = 0.05
    port = free_port()
    config = tmp_path / "serve.toml"
    config.write_text(f"[inbox]\nlease_seconds = {LEASE_S}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.update(
        DATABASE_URL=database_url, SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=api.api_url, PORT=str(port), ALUMNI_BOT_CONFIG=str(config),
    )  # fmt: skip

    def answered() -> Counter[str]:
        return Counter(channel.removeprefix("D") for channel, _ in api.messages)

    acknowledged: set[str] = set()
    serve = await start_serve(env, port)
    try:
        async with httpx.AsyncClient(timeout=10) as client:

            async def post(user: str) -> None:
                event = {"type": "message", "channel_type": "im", "channel": f"D{user}",
                         "user": user, "text": "help", "ts": "1.0"}  # fmt: skip
                body = json.dumps({"type": "event_callback", "team_id": "T0FAKE",
                                   "event_id": f"Ev{user}", "event": event}).encode()  # fmt: skip
                headers = {"Content-Type": "application/json"}
                headers |= signature(body, int(time.time()))
                try:
                    url = f"http://127.0.0.1:{port}/slack/events"
                    response = await client.post(url, content=body, headers=headers)
                except httpx.TransportError:
                    return
                if response.status_code == 200:
                    acknowledged.add(user)

            burst = [asyncio.create_task(post(user)) for user in users]
            await wait_until(lambda: len(acknowledged) >= PEOPLE // 3, "a third acknowledged")
            serve.send_signal(signal.SIGKILL)
            await serve.wait()
            await asyncio.gather(*burst)
        serve = await restart_and_check("slack", env, port, acknowledged, answered)
    finally:
        if serve.returncode is None:
            serve.send_signal(signal.SIGTERM)
            await asyncio.wait_for(serve.wait(), timeout=60)
        await api.close()
