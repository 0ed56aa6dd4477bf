"""In-process dispatch of a `profile` command: median and p99, against an empty route.

The baseline is a route whose handler does nothing, dispatched through the same Dispatcher in
the same process: what remains of the ratio is the profile feature's own cost (its queries and
rendering), not the machine's speed.

    python bench/dispatch_profile.py [--n 2000] [--database-url sqlite:///…|postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.core.clock import FixedClock
from bot.core.settings import Settings
from bot.core.types import Actor, Incoming, Reply
from bot.dispatch.router import Dispatcher, Route, Router
from bot.runtime.app import App
from handlers import ROUTES
from storage import demo, migrate


async def empty(ctx: object, msg: Incoming) -> Reply:
    return Reply("")


async def measure(dispatcher: Dispatcher, text: str, n: int) -> list[float]:
    """Wall seconds per dispatch; the last element is this process's CPU per dispatch, which
    a shared machine disturbs far less than the wall time (see describe)."""
    actor = Actor("console", "hanako@example.com")
    samples = []
    cpu = time.process_time()
    for _ in range(n):
        start = time.perf_counter()
        await dispatcher.dispatch(Incoming(actor, "bench", text=text))
        samples.append(time.perf_counter() - start)
    return [*samples, (time.process_time() - cpu) / n]


def describe(name: str, measured: list[float]) -> tuple[float, float]:
    *samples, cpu = measured
    median = statistics.median(samples)
    p99 = statistics.quantiles(samples, n=100)[98]
    print(
        f"{name:<14} median {median * 1000:7.3f} ms   p99 {p99 * 1000:7.3f} ms"
        f"   CPU {cpu * 1000:6.3f} ms a dispatch"
    )
    return median, p99


async def main(n: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = App.build(Settings(database_url=url), FixedClock())  # type: ignore[call-arg]
        await migrate.upgrade(app.db)
        async with app.db.transaction() as session:
            await demo.load(session, app.clock.now())
        from bot.channels.console import ConsoleChat

        await ConsoleChat(app, "hanako@example.com").link()
        router = Router([*ROUTES, Route(empty, command="noop", consent=False)])
        dispatcher = Dispatcher(app.db, app.settings, app.catalogs, router, app.clock)
        await measure(dispatcher, "/profile", 50)  # warm caches and connections
        print(f"{n} dispatches each, {app.db.engine.dialect.name}")
        base = describe("empty route", await measure(dispatcher, "/noop", n))
        prof = describe("profile", await measure(dispatcher, "/profile", n))
        ratio = f"median {prof[0] / base[0]:.2f}x   p99 {prof[1] / base[1]:.2f}x"
        print(f"ratio profile/empty: {ratio}")
        await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.database_url))
