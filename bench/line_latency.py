"""LINE webhook latency through `serve`: median and p99 at 50 concurrent events, vs /healthz.

`alumni-bot serve` runs in its own process, as in production, with LINE_API_URL pointed at the
tests' fake Messaging API (127.0.0.1). Each sample is one signed `POST /line/webhook` until its
200: signature checked, the event recorded in the inbox once. Handling (dispatch, the reply with
the event's token) happens after the 200; the bench waits for every answer and reports how long
the last one took. The baseline is `GET /healthz` (HTTP plus one database round trip) through the
same process at the same concurrency: the ratio is what taking a LINE event costs.

    python bench/line_latency.py [--rounds 20] [--concurrency 50] [--text help]
                                 [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.fakes

from bench.telegram_latency import describe, free_port, rounds, wait_healthy  # noqa: E402
from tests.fakes.line_api import SECRET, TOKEN, FakeLineAPI, LineUser  # noqa: E402


async def main(n: int, concurrency: int, text: str, database_url: str | None) -> None:
    fake = FakeLineAPI()
    await fake.start()
    users = [LineUser(f"U{i:032d}", f"u{i}", "ja" if i % 2 else "en") for i in range(concurrency)]
    for user in users:
        fake.add_user(user)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": database_url or f"sqlite:///{Path(tmp) / 'bench.db'}",
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "LINE_API_URL": fake.api_url,
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

                async def event(i: int) -> None:
                    now_ms = int(time.time() * 1000)
                    body = fake.body(fake.event_text(users[i], text, now_ms))
                    response = await http.post(
                        "/line/webhook", content=body,
                        headers={"X-Line-Signature": fake.signed(body)},
                    )  # fmt: skip
                    response.raise_for_status()

                await rounds(3, concurrency, event)  # warm: identities, connections
                await fake.wait_for(lambda: len(fake.delivered) >= 3 * concurrency, 120)
                await rounds(3, concurrency, health)
                before = len(fake.delivered)
                print(f"{n} rounds of {concurrency} concurrent {text!r} events through serve")
                base = describe("GET /healthz (baseline)", await rounds(n, concurrency, health))
                started = time.perf_counter()
                hook = describe("webhook event (200)", await rounds(n, concurrency, event))
                wanted = before + n * concurrency
                await fake.wait_for(lambda: len(fake.delivered) >= wanted, 300)
                took = time.perf_counter() - started
                answered = len(fake.delivered) - before
                replies = sum(1 for d in fake.delivered[before:] if d.how == "reply")
                print(
                    f"ratio webhook/healthz: median {hook[0] / base[0]:.2f}x   "
                    f"p99 {hook[1] / base[1]:.2f}x   ({answered} answered, {replies} by reply "
                    f"token, all within {took:.1f} s)"
                )
        finally:
            if serve.returncode is None:
                serve.terminate()
            await asyncio.wait_for(serve.wait(), 10)
            log.close()
            if serve.returncode not in (0, -15) or os.environ.get("BENCH_SHOW_LOG"):
                sys.stderr.write((Path(tmp) / "serve.log").read_text(errors="replace")[-3000:])
    await fake.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--text", default="help")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.concurrency, args.text, args.database_url))
