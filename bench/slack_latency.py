"""Signed Slack request latency through `serve`: median and p99 at 50 concurrent requests.

`alumni-bot serve` runs in its own process, as in production, with SLACK_API_URL pointed at the
tests' fake Web API (127.0.0.1). Each sample is one signed `/alumni help` slash command from a
linked person, `POST /slack/events` until its 200: Bolt checks the signature, our listener
acknowledges and the work goes on after it. The baseline is Bolt's bare ack: an AsyncApp whose
command listener only calls `ack()`, served by the same Starlette adapter and uvicorn in a
process of its own, at the same concurrency. The ratio is what our channel adds to Bolt's own
cost of acknowledging. Also printed: the time until the answer reached the fake (the work after
the ack: identity, dispatch, `response_url`), twice. "none waited": the rounds above, where
each of the 50 sends again as soon as its command is acknowledged, answered or not (a flood of
about 250 commands a second, more than this one process answers: the answers queue, and their
lag grows with the number of rounds). "each waited": then the same rounds as people type, each
of the 50 sending its next command only once its answer has arrived.

    python bench/slack_latency.py [--rounds 20] [--concurrency 50] [--text help]
                                  [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.fakes and bench.*

from bench.fresh_db import fresh_database  # noqa: E402
from bench.telegram_latency import describe, free_port, rounds, wait_healthy  # noqa: E402
from tests.fakes.slack_api import TEAM, TOKEN, FakeSlackAPI  # noqa: E402

SECRET = "bench-signing-secret"


def bare_bolt_app(api_url: str) -> object:
    """The baseline: Bolt acknowledging a slash command and doing nothing else."""
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    bolt = AsyncApp(
        client=AsyncWebClient(TOKEN, base_url=api_url),
        signing_secret=SECRET,
        process_before_response=True,
        url_verification_enabled=False,
    )

    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    bolt.command("/alumni")(ack_only)
    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", healthz)]
    )


def signed_command(user: str, text: str, response_url: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {"command": "/alumni", "text": text, "user_id": user, "team_id": TEAM,
         "channel_id": "CBENCH", "response_url": response_url, "trigger_id": "t"}
    ).encode()  # fmt: skip
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


async def load_people(database_url: str, users: list[str]) -> None:
    from sqlalchemy import update

    from bot.core.settings import Settings
    from bot.runtime.app import App
    from storage import importer
    from storage.models import Person

    header = (
        "email,name,name_kana,department,title,joined_on,left_on,join_route,leave_reason,"
        "skills,location,locale,timezone,slack_user_id,telegram_user_id"
    )
    rows = [
        f"{u.lower()}@example.com,Person {i},,Sales,Rep,2015-04-01,2023-03-31,new_grad,,"
        f"Sales,Tokyo,{'ja' if i % 2 else 'en'},Asia/Tokyo,{u},"
        for i, u in enumerate(users)
    ]
    app = App.build(Settings(database_url=database_url))
    try:
        await app.prepare()
        async with app.db.transaction() as session:
            csv = "\n".join([header, *rows]) + "\n"
            await importer.import_people(session, csv.encode(), app.clock.now())
            # Joined and consented, as the people who use the bot are: an unconsented person's
            # command only gets the consent question, the cheapest path (issue 17).
            await session.execute(
                update(Person).values(
                    consent_at=app.clock.now(),
                    consent_version=app.settings.privacy.consent_version,
                )
            )
    finally:
        await app.close()


async def start(argv: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    out = log.open("wb")
    return await asyncio.create_subprocess_exec(*argv, env=env, cwd=ROOT, stdout=out, stderr=out)


async def measure(
    port: int, process: asyncio.subprocess.Process, n: int, concurrency: int,
    request: Callable[[httpx.AsyncClient, int], Awaitable[None]],
) -> list[float]:  # fmt: skip
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
    ) as http:
        await wait_healthy(http, process)
        await rounds(3, concurrency, lambda i: request(http, i))  # warm up
        return await rounds(n, concurrency, lambda i: request(http, i))


async def main(n: int, concurrency: int, text: str, database_url: str | None) -> None:
    fake = FakeSlackAPI()
    users = [f"UBENCH{i:03d}" for i in range(concurrency)]
    for i, user in enumerate(users):
        fake.add_user(user, f"Person {i}", "ja-JP" if i % 2 else "en-US")
    await fake.start()
    # A throwaway database (a new PostgreSQL database next to the one named, dropped after).
    async with fresh_database(database_url or "sqlite") as url:
        with tempfile.TemporaryDirectory() as tmp:
            await run(fake, users, url, Path(tmp), n, concurrency, text)
    await fake.close()


async def run(
    fake: FakeSlackAPI, users: list[str], url: str, tmp: Path, n: int, concurrency: int, text: str
) -> None:
    await load_people(url, users)
    counter = iter(range(10**9))
    sent_at: dict[str, float] = {}

    async def send(http: httpx.AsyncClient, i: int) -> str:
        """One signed command until its 200; the name its answer will carry."""
        name = f"r{next(counter)}"
        body, headers = signed_command(users[i], text, fake.response_url(name))
        sent_at[name] = time.perf_counter()
        response = await http.post("/slack/events", content=body, headers=headers)
        response.raise_for_status()
        return name

    async def command(http: httpx.AsyncClient, i: int) -> None:
        await send(http, i)

    seen: dict[str, float] = {}
    read = 0

    def answered() -> dict[str, float]:
        """Each command's answer time, read incrementally from what the fake received."""
        nonlocal read
        for call in fake.calls[read:]:
            if call.method == "response":
                seen[call.params["name"]] = call.at
        read = len(fake.calls)
        return seen

    acked: list[float] = []

    async def conversation(http: httpx.AsyncClient, i: int) -> None:
        """As a person types: the command, then waiting for its answer before the next."""
        name = await send(http, i)
        acked.append(time.perf_counter() - sent_at[name])
        await fake.wait_until(lambda: name in answered(), 60)

    print(f"{n} rounds of {concurrency} concurrent signed '/alumni {text}' commands")
    bare_port, serve_port = free_port(), free_port()
    bare = await start(
        [sys.executable, __file__, "--bare", str(bare_port), fake.api_url], dict(os.environ),
        tmp / "bare.log",
    )  # fmt: skip
    try:
        base = describe("Bolt bare ack", await measure(bare_port, bare, n, concurrency, command))
    finally:
        bare.terminate()
        await bare.wait()
    env = {**os.environ, "DATABASE_URL": url, "SLACK_BOT_TOKEN": TOKEN,
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.api_url,
           "PORT": str(serve_port)}  # fmt: skip
    serve = await start([sys.executable, "-m", "bot.cli", "serve"], env, tmp / "serve.log")
    try:
        sent_at.clear()
        ours = describe("serve ack", await measure(serve_port, serve, n, concurrency, command))
        await fake.wait_until(lambda: len(answered()) >= len(sent_at), 120)
        arrived = answered()
        lags = [arrived[k] - sent_at[k] for k in sent_at]
        describe("answer, none waited", lags[3 * concurrency :])
        ratio = f"median {ours[0] / base[0]:.2f}x   p99 {ours[1] / base[1]:.2f}x"
        print(f"ratio serve/bare ack: {ratio}")
        sent_at.clear()
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{serve_port}",
            limits=httpx.Limits(max_connections=concurrency),
            timeout=60,
        ) as http:
            await rounds(n, concurrency, lambda i: conversation(http, i))
        arrived = answered()
        waited = describe("ack, each waited", acked)
        describe("answer, each waited", [arrived[k] - sent_at[k] for k in sent_at])
        print(f"ratio to bare ack, each waited: median {waited[0] / base[0]:.2f}x   "
              f"p99 {waited[1] / base[1]:.2f}x")  # fmt: skip
    finally:
        serve.terminate()
        await asyncio.wait_for(serve.wait(), 10)
        if os.environ.get("BENCH_SHOW_LOG"):
            sys.stderr.write((tmp / "serve.log").read_text(errors="replace")[-3000:])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--text", default="help")
    parser.add_argument("--database-url")
    parser.add_argument("--bare", nargs=2, metavar=("PORT", "API_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        import uvicorn

        port, api_url = int(args.bare[0]), args.bare[1]
        app = bare_bolt_app(api_url)
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    else:
        asyncio.run(main(args.rounds, args.concurrency, args.text, args.database_url))
