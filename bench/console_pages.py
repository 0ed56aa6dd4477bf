"""Every page of the web console through `serve`, over the demo data and over 100,000 people.

    python bench/console_pages.py [--people 100000] [--interactions 300000] [--requests 15]
                                  [--database-url postgresql://postgres@127.0.0.1:5432/test]

`alumni-bot serve` runs in its own process, as in production. An admin signs in the way a
browser does (the one-time link's page, then its same-origin POST) and each page is fetched
`--requests` times in a row with the session cookie. The baseline, through the same process,
is `GET /healthz` (HTTP plus one database round trip): each page's ratio to it says what the
page itself costs, whatever the machine. Two databases: the demo's (`alumni-bot demo`'s 60
people) and a network of `--people` people and `--interactions` interactions from
bench/report_data.py (openings, referrals, events, RSVPs, perks, a broadcast). Target: every
page well under a second on the demo data, and list pages (paged) as fast at 100,000 people.
Exit 1 when a page answers anything but 200, or a demo page takes a second or more.

Left out: the browser's own work (rendering, the font), and the pages that change something
(they redirect to these)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report_data  # noqa: E402
from bench.fresh_db import fresh_database  # noqa: E402
from bench.telegram_latency import free_port, wait_healthy  # noqa: E402
from bot.core.clock import FixedClock, SystemClock  # noqa: E402
from bot.core.settings import Settings  # noqa: E402
from bot.runtime.app import App  # noqa: E402
from storage import console_web, demo, people  # noqa: E402
from storage.models import Person, Role  # noqa: E402

PAGES = [
    "/admin", "/admin/interactions", "/admin/outcomes", "/admin/people", "/admin/audit",
    "/admin/openings", "/admin/openings/1", "/admin/referrals", "/admin/events", "/admin/perks",
    "/admin/broadcasts", "/admin/reach", "/admin/invitations", "/admin/import",
    "/admin/chart/activity.png",
]  # fmt: skip
ADMIN = "bench-admin@example.com"


async def prepare(url: str, network: tuple[int, int] | None) -> None:
    """The data, and an admin to sign in as."""
    if network is not None:
        await report_data.generate(url, *network)
    app = App.build(Settings(database_url=url), FixedClock(report_data.NOW))
    try:
        async with app.db.transaction() as session:
            if network is None:
                await demo.load(session, app.clock.now(), size=60)
            now = SystemClock().now()
            me = Person(email=ADMIN, name="ベンチ 管理者", locale="ja", consent_at=now, skills=[],
                        desired_roles=[], opt_outs=[])  # fmt: skip
            session.add(me)
            await session.flush()
            await people.grant(session, me, Role.ADMIN, None, now)
    finally:
        await app.close()


async def sign_in(http: httpx.AsyncClient, url: str) -> None:
    app = App.build(Settings(database_url=url))
    try:
        async with app.db.transaction() as session:
            me = await people.person_by_email(session, ADMIN)
            assert me is not None
            token = await console_web.issue_link(session, me, app.clock.now())
    finally:
        await app.close()
    shown = await http.get(f"/admin/login/{token}")
    shown.raise_for_status()
    csrf = re.search(r'name="token" value="([^"]+)"', shown.text)
    sent = await http.post(
        "/admin/login",
        data={"token": csrf.group(1) if csrf else token},
        headers={"Origin": str(http.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"},
    )
    if sent.status_code not in (200, 303):
        raise SystemExit(f"sign-in failed: {sent.status_code}")


async def timed(http: httpx.AsyncClient, path: str, n: int) -> tuple[list[float], int]:
    samples, status = [], 200
    for _ in range(n):
        start = time.perf_counter()
        response = await http.get(path)
        samples.append(time.perf_counter() - start)
        if response.status_code != 200:
            status = response.status_code
    return samples, status


async def measure(url: str, label: str, n: int) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": url, "PORT": str(port), "PUBLIC_URL": base}
    medians: dict[str, float] = {}
    bad = []
    with tempfile.TemporaryDirectory() as tmp:
        log = (Path(tmp) / "serve.log").open("wb")
        serve = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", env=env, cwd=ROOT, stdout=log, stderr=log
        )
        try:
            async with httpx.AsyncClient(base_url=base, timeout=120) as http:
                await wait_healthy(http, serve)
                await sign_in(http, url)
                for path in ["/healthz", *PAGES]:  # warm: connections, caches, templates
                    await http.get(path)
                base_samples, _ = await timed(http, "/healthz", n)
                baseline = statistics.median(base_samples)
                print(f"\n{label}: {n} requests a page, one at a time, through serve")
                print(f"{'GET /healthz (baseline)':<32} median {baseline * 1000:8.1f} ms")
                for path in PAGES:
                    samples, status = await timed(http, path, n)
                    median, worst = statistics.median(samples), max(samples)
                    medians[path] = median
                    flag = "" if status == 200 else f"  status {status}"
                    print(f"{path:<32} median {median * 1000:8.1f} ms   max {worst * 1000:8.1f} ms"
                          f"   {median / baseline:6.1f}x baseline{flag}")  # fmt: skip
                    if status != 200:
                        bad.append(path)
        finally:
            if serve.returncode is None:
                serve.terminate()
            await asyncio.wait_for(serve.wait(), 15)
            log.close()
            if bad or os.environ.get("BENCH_SHOW_LOG"):
                sys.stderr.write((Path(tmp) / "serve.log").read_text(errors="replace")[-3000:])
    if bad:
        raise SystemExit(f"pages that did not answer 200: {bad}")
    return medians


async def main(args: argparse.Namespace) -> int:
    async with fresh_database(args.database_url) as url:
        await prepare(url, None)
        small = await measure(url, "demo data (60 people)", args.requests)
    async with fresh_database(args.database_url) as url:
        started = time.perf_counter()
        await prepare(url, (args.people, args.interactions))
        print(f"\n(generated {args.people} people and {args.interactions} interactions"
              f" in {time.perf_counter() - started:.0f} s)")  # fmt: skip
        large = await measure(url, f"{args.people} people", args.requests)
    print(f"\ngrowth, {args.people} people against the demo's 60 (median / median):")
    for path in PAGES:
        print(f"{path:<32} {large[path] / small[path]:6.1f}x   ({large[path] * 1000:.0f} ms)")
    slow = [p for p, s in small.items() if s >= 1.0]
    return 1 if slow else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument(
        "--database-url", default="sqlite", help="a PostgreSQL server URL, or sqlite (default)"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
