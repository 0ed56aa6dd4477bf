"""The full engagement report over 100,000 people and 1,000,000 interactions.

    python bench/report_full.py [--people 100000] [--interactions 1000000] [--runs 3]
                                [--database-url postgresql://postgres@127.0.0.1:5432/test]

In a throwaway database (bench/fresh_db.py: a temporary SQLite file, or a new PostgreSQL
database next to the one named, dropped afterwards), generates the network with
bench/report_data.py (timed separately), then times every section of `report` for the whole
network and the last 365 days — exactly what `report` in chat and `alumni-bot report` compute
(handlers/report_tables.build) — and `stats`. Targets: the full report under 3 s on PostgreSQL
and under 10 s on SQLite. Exit 1 when a target is missed.

The baseline, in the same process and database, is one bare pass over the range's contacts
(counting them per pair, nothing joined or written): the report's ratio to it says how many such
passes the report costs, whatever the machine."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fresh_db import fresh_database
from bench.report_data import NOW, generate
from bot.core.clock import FixedClock
from bot.core.settings import Settings
from bot.runtime.app import App
from handlers import report_tables
from storage.models import Interaction
from storage.reports import stats as report_stats
from storage.reports.filter import Filter, make_filter

TARGETS = {"sqlite": 10.0, "postgresql": 3.0}


async def bare_pass(app: App, f: Filter) -> float:
    """Seconds to count the range's contacts per pair: the floor any per-alumnus report pays."""
    i = Interaction
    per_pair = (
        select(i.person_a, i.person_b, func.count())
        .where(i.occurred_on >= f.start, i.occurred_on <= f.end)
        .group_by(i.person_a, i.person_b)
        .subquery()
    )
    started = time.perf_counter()
    async with app.db.transaction() as session:
        await session.scalar(select(func.count()).select_from(per_pair))
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> int:
    async with fresh_database(args.database_url) as url:
        build_s, load_s = await generate(url, args.people, args.interactions)
        print(f"data: {args.people:,} people, {args.interactions:,} interactions — rows built "
              f"in {build_s:.1f} s, bulk-loaded in {load_s:.1f} s")  # fmt: skip
        app = App.build(Settings(database_url=url), FixedClock(NOW))
        t = app.catalogs.translator("ja")
        f = make_filter(NOW.date())
        kind = "sqlite" if app.db.is_sqlite else "postgresql"
        try:
            report_times, stats_times, tables, bare_times = [], [], [], []
            for _ in range(args.runs):
                bare_times.append(await bare_pass(app, f))
                started = time.perf_counter()
                async with app.db.transaction() as session:
                    tables = await report_tables.build(session, f, t)
                report_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                async with app.db.transaction() as session:
                    await report_stats.stats(session, NOW, "Asia/Tokyo")
                stats_times.append(time.perf_counter() - started)
            overall = tables[0].rows[0]
            print(f"{kind}: full report ({len(tables)} tables; {overall[1]:,} alumni) "
                  f"median {statistics.median(report_times):.2f} s, best {min(report_times):.2f} s"
                  f" over {args.runs} runs (target < {TARGETS[kind]:.0f} s); stats median "
                  f"{statistics.median(stats_times):.2f} s")  # fmt: skip
            bare = statistics.median(bare_times)
            print(f"  baseline, a bare pass counting the range's contacts per pair: {bare:.2f} s; "
                  f"report/baseline {statistics.median(report_times) / bare:.1f}x")  # fmt: skip
            for section in report_tables.SECTIONS:  # one section at a time, for the profile
                started = time.perf_counter()
                async with app.db.transaction() as session:
                    await report_tables.build(session, f, t, (section,))
                print(f"  {section}: {time.perf_counter() - started:.2f} s")
        finally:
            await app.close()
        return 0 if statistics.median(report_times) < TARGETS[kind] else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="sqlite:///")
    sys.exit(asyncio.run(main(parser.parse_args())))
