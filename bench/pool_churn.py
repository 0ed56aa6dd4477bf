"""PostgreSQL connection churn and checkout cost under bursts of concurrent transactions.

    python bench/pool_churn.py [--rounds 20] [--concurrency 50] [--serial 2000]
                               [--database-url postgresql://postgres@127.0.0.1:5432/test]

Rounds of `--concurrency` short transactions at once (each a `SELECT pg_sleep(0.005)`, about what
a dispatch holds a connection for), a pause between rounds as between bursts; then `--serial`
one-statement transactions one after another (each pays a checkout). Run twice in the same
process: the baseline is the pool as it was (10 + 20 overflow, pre-ping on every checkout), then
`storage.db.make_engine`'s. Prints connections opened and closed per burst (after the first,
which opens the pool) with a burst's median time, and the serial transaction's median and p99."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.db import async_url, make_engine


async def measure(
    engine: AsyncEngine, args: argparse.Namespace
) -> tuple[float, float, list[float]]:
    opened = closed = 0

    def on_connect(*_: object) -> None:
        nonlocal opened
        opened += 1

    def on_close(*_: object) -> None:
        nonlocal closed
        closed += 1

    event.listen(engine.sync_engine.pool, "connect", on_connect)
    event.listen(engine.sync_engine.pool, "close", on_close)

    async def one() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_sleep(0.005)"))

    await asyncio.gather(*(one() for _ in range(args.concurrency)))  # the first burst opens
    first_opened, first_closed = opened, closed
    bursts = []
    for _ in range(args.rounds):
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(args.concurrency)))
        bursts.append((time.perf_counter() - started) * 1000)
    per_burst_open = (opened - first_opened) / args.rounds
    per_burst_close = (closed - first_closed) / args.rounds
    samples = []
    for _ in range(args.serial):
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(text("SELECT 1"))
        samples.append((time.perf_counter() - started) * 1000)
    await engine.dispose()
    return per_burst_open, per_burst_close, bursts, samples


def show(
    label: str, opened: float, closed: float, bursts: list[float], samples: list[float]
) -> None:
    samples.sort()
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(
        f"{label:<28} per burst: opened {opened:5.1f}, closed {closed:5.1f},"
        f" median {statistics.median(bursts):.1f} ms;"
        f" a transaction: median {statistics.median(samples):.3f} ms, p99 {p99:.3f} ms"
    )


async def main(args: argparse.Namespace) -> int:
    url = async_url(args.database_url)
    old = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    before = await measure(old, args)
    after = await measure(make_engine(args.database_url), args)
    print(f"{args.rounds} bursts of {args.concurrency}, then {args.serial} transactions in a row")
    show("baseline: 10+20, pre-ping", *before)
    show("make_engine", *after)
    return 0 if after[0] == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--serial", type=int, default=2000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments)))
