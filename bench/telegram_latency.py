"""Telegram webhook update latency through `serve`: median and p99 at 50 concurrent updates.

`alumni-bot serve` runs in its own process, as in production, with the Bot API pointed at the
tests' fake (127.0.0.1). Each sample is one `POST /telegram/webhook` until its 200: secret
checked, `update_id` recorded once, dispatched, the answer sent to the fake Bot API. The
senders are joined, consented people (a person and a Telegram identity each, in a throwaway
database), so `/help` is the member's full answer, and every update has a fresh `update_id`
(the run fails unless every update was answered). The
baseline is `GET /healthz` (HTTP plus one database round trip) through the same process at the
same concurrency: the ratio is what handling a Telegram update costs, not the machine's speed.

    python bench/telegram_latency.py [--rounds 20] [--concurrency 50] [--text /help]
                                     [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.fakes

from bench.fresh_db import fresh_database  # noqa: E402
from bot.core.clock import FixedClock  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, TgUser  # noqa: E402
from tests.support.crowd import add_people  # noqa: E402

PREFIX = "700000"  # the people's Telegram user ids: 7000000, 7000001, …, 70000010, …

SECRET = "bench-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def describe(name: str, samples: list[float]) -> tuple[float, float]:
    median = statistics.median(samples)
    p99 = statistics.quantiles(samples, n=100)[98]
    print(f"{name:<24} median {median * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms")
    return median, p99


async def rounds(
    n: int, concurrency: int, request: Callable[[int], Awaitable[None]]
) -> list[float]:
    """`n` times: `concurrency` requests at once; the latency of each."""
    samples: list[float] = []

    async def one(i: int) -> None:
        start = time.perf_counter()
        await request(i)
        samples.append(time.perf_counter() - start)

    for _ in range(n):
        await asyncio.gather(*(one(i) for i in range(concurrency)))
    return samples


async def wait_healthy(http: httpx.AsyncClient, serve: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if serve.returncode is not None:
            raise SystemExit("alumni-bot serve exited; its log follows")
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("alumni-bot serve did not become healthy in 30 s")


async def main(n: int, concurrency: int, text: str, database_url: str | None) -> int:
    async with fresh_database(database_url or "sqlite://") as url:
        db = Database.connect(url)
        try:
            await add_people(db, concurrency, FixedClock().now(), prefix=PREFIX)
        finally:
            await db.close()
        return await measure(n, concurrency, text, url)


async def measure(n: int, concurrency: int, text: str, url: str) -> int:
    fake = FakeTelegramAPI()
    await fake.start()
    users = [
        TgUser(int(f"{PREFIX}{i}"), f"u{i}", "ja" if i % 2 else "en") for i in range(concurrency)
    ]
    port = free_port()
    answered = 0
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.api_url,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "PORT": str(port),
        }
        log = (Path(tmp) / "serve.log").open("wb")
        serve = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", env=env, cwd=ROOT, stdout=log, stderr=log
        )
        limits = httpx.Limits(max_connections=concurrency)
        base_url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
                await wait_healthy(http, serve)

                async def health(_: int) -> None:
                    (await http.get("/healthz")).raise_for_status()

                async def update(i: int) -> None:
                    response = await http.post(
                        "/telegram/webhook",
                        content=json.dumps(fake.private(users[i], text)),
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                    )
                    response.raise_for_status()

                await rounds(3, concurrency, update)  # warm: identities, connections
                await rounds(3, concurrency, health)
                before = len(fake.sent())
                print(f"{n} rounds of {concurrency} concurrent {text!r} updates through serve")
                base = describe("GET /healthz (baseline)", await rounds(n, concurrency, health))
                hook = describe("webhook update", await rounds(n, concurrency, update))
                # Answers may leave after the 200 (the durable inbox): wait for them all.
                for _ in range(600):
                    if len(fake.sent()) - before >= n * concurrency:
                        break
                    await asyncio.sleep(0.05)
                answered = len(fake.sent()) - before
                first = str(fake.sent()[-1].get("text", "")).splitlines()[0][:70]
                print(f"an answer begins: {first!r}")
                print(
                    f"ratio webhook/healthz: median {hook[0] / base[0]:.2f}x   "
                    f"p99 {hook[1] / base[1]:.2f}x   ({answered} answers sent)"
                )
        finally:
            if serve.returncode is None:
                serve.terminate()
            await asyncio.wait_for(serve.wait(), 10)
            log.close()
            if serve.returncode not in (0, -15) or os.environ.get("BENCH_SHOW_LOG"):
                sys.stderr.write((Path(tmp) / "serve.log").read_text(errors="replace")[-3000:])
    await fake.close()
    expected = n * concurrency
    if answered != expected:
        print(f"WRONG: {answered} answers for {expected} updates")
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--text", default="/help")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.rounds, args.concurrency, args.text, args.database_url)))
