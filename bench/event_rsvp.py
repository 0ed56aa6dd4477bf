"""1,000 people pressing "Going" at the same moment for a 100-seat event (PostgreSQL or SQLite).

    python bench/event_rsvp.py [--people 1000] [--capacity 100] [--cancel 50] [--at-once N]
                               [--database-url postgresql://postgres@127.0.0.1:5432/test]

Every press goes through the real Dispatcher (identity lookup, route, handler, one
transaction each), all pressed at once with asyncio.gather and handled `[inbox] concurrency`
(8) at a time, as `serve`'s inbox handles what arrives (`--at-once 0`: all handled at once,
over the engine's connection pool, as this bench did before 2026-12-07).
The RSVP handler locks the event's row, so the presses are counted one after another: the run
fails unless exactly `capacity` people are going and everyone else is on the waitlist. Then
`--cancel` of those going say "can't go" at once, and exactly as many must be promoted.

The presses are the button's real path: joined, consented people (one console identity each)
pressing `events.rsvp`, each a full dispatch in its own transaction. The baseline is the same
number of concurrent dispatches, by the same people, to a route that does nothing but needs the
same consent, in the same process: the ratio is what seat counting and waitlisting cost on top
of the router's own per-message work. Each line also gives this process's CPU a press, which a
busy shared machine disturbs far less than the wall time; a press that fails (the pool's 30 s
checkout timeout, SQLite's busy timeout) is counted and makes the run WRONG."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench.fresh_db import fresh_database
from bot.core.clock import FixedClock
from bot.core.settings import Settings
from bot.core.types import Actor, Incoming, Reply
from bot.dispatch.router import Dispatcher, Route, Router
from bot.runtime.app import App
from handlers import ROUTES
from storage.models import Event, OutboxMessage, Rsvp
from tests.support.crowd import add_people


async def noop(ctx: object, msg: Incoming) -> Reply:
    return Reply("")


def press(user: str, action: str, payload: str) -> Incoming:
    return Incoming(Actor("console", user), user, action=action, payload=payload)


@dataclass
class Burst:
    wall: float  # seconds, first press to last answer
    cpu: float  # this process's CPU seconds over the burst (the database's own is left out)
    latencies: list[float]
    texts: list[str]


async def pressed(dispatcher: Dispatcher, presses: list[Incoming], at_once: int) -> Burst:
    """All pressed at once, `at_once` handled at a time (0: all of them): wall and CPU seconds,
    each press's latency from the moment all were pressed, each first reply's text."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(at_once or len(presses))

    async def one(incoming: Incoming) -> str:
        start = time.perf_counter()
        async with gate:
            replies = await dispatcher.dispatch(incoming)
        latencies.append(time.perf_counter() - start)
        return replies[0].text if replies else ""

    started, cpu = time.perf_counter(), time.process_time()
    texts = await asyncio.gather(*(one(p) for p in presses))
    return Burst(time.perf_counter() - started, time.process_time() - cpu, latencies, list(texts))


def describe(name: str, b: Burst) -> None:
    p99 = statistics.quantiles(b.latencies, n=100)[98]
    print(
        f"{name:<22} {b.wall:6.2f} s wall   {len(b.latencies) / b.wall:5.0f}/s   "
        f"CPU {b.cpu / len(b.latencies) * 1000:5.2f} ms a press   "
        f"latency median {statistics.median(b.latencies) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"
    )


async def statuses(app: App, event_id: int) -> dict[str, int]:
    async with app.db.transaction() as session:
        rows = await session.execute(
            select(Rsvp.status, func.count()).where(Rsvp.event_id == event_id).group_by(Rsvp.status)
        )
        return {status: n for status, n in rows.all()}


async def main(
    people: int, capacity: int, cancel: int, server_url: str, at_once: int | None
) -> int:
    async with fresh_database(server_url) as url:
        clock = FixedClock()
        app = App.build(Settings(database_url=url), clock)  # type: ignore[call-arg]
        try:
            now = clock.now()
            person_ids = await add_people(app.db, people, now, channel="console", prefix="b")
            async with app.db.transaction() as session:
                event = Event(
                    uid="bench@alumni-bot",
                    title="Alumni summit",
                    timezone="Asia/Tokyo",
                    starts_at=now + timedelta(days=14),
                    ends_at=now + timedelta(days=14, hours=3),
                    place="Tokyo",
                    capacity=capacity,
                    segment="all",
                    status="scheduled",
                    created_at=now,
                    updated_at=now,
                )
                session.add(event)
                await session.flush()
                event_id = event.id
            # The baseline route asks for consent as the RSVP's does: same identity, person and
            # roles query, same consent check, its own transaction; only the handler differs.
            router = Router([*ROUTES, Route(noop, action="bench.noop")])
            apology = app.catalogs.text(app.settings.default_locale, "error.internal")
            dispatcher = Dispatcher(app.db, app.settings, app.catalogs, router, app.clock)
            users = [f"b{n}" for n in range(people)]
            n = app.settings.inbox.concurrency if at_once is None else at_once
            print(
                f"{people} people at once, {capacity} seats, {app.db.engine.dialect.name}, "
                + (f"handled {n} at a time" if n else "all handled at once")
            )

            def burst(presses: list[Incoming]) -> Awaitable[Burst]:
                return pressed(dispatcher, presses, n)

            await burst([press(u, "bench.noop", "") for u in users[:50]])  # warm up
            base = await burst([press(u, "bench.noop", "") for u in users])
            describe("empty route (baseline)", base)

            rush = await burst([press(u, "events.rsvp", f"{event_id}:going") for u in users])
            describe("RSVP going", rush)
            texts, failed = rush.texts, sum(t == apology for t in rush.texts)
            counted = await statuses(app, event_id)
            said_going = sum(t.startswith("You're going") for t in texts)
            said_waiting = sum("waitlist" in t for t in texts)
            print(
                f"going {counted.get('going', 0)}, waitlisted {counted.get('waitlist', 0)}; "
                f"replies: {said_going} going, {said_waiting} waitlisted"
            )
            print(
                f"ratio RSVP/empty: wall {rush.wall / base.wall:.2f}x   "
                f"CPU {rush.cpu / base.cpu:.2f}x   median latency "
                f"{statistics.median(rush.latencies) / statistics.median(base.latencies):.2f}x"
                + (f"   ({failed} presses failed: see the log)" if failed else "")
            )
            ok = counted == {"going": capacity, "waitlist": people - capacity}
            ok = ok and said_going == capacity and said_waiting == people - capacity

            if cancel:
                async with app.db.transaction() as session:
                    going = (
                        await session.scalars(
                            select(Rsvp.person_id)
                            .where(Rsvp.event_id == event_id, Rsvp.status == "going")
                            .limit(cancel)
                        )
                    ).all()
                    ids = set(going)
                leaving = [u for u, pid in zip(users, person_ids, strict=True) if pid in ids]
                describe(
                    f"{len(leaving)} cancel at once",
                    await burst([press(u, "events.rsvp", f"{event_id}:no") for u in leaving]),
                )
                after = await statuses(app, event_id)
                async with app.db.transaction() as session:
                    told = await session.scalar(
                        select(func.count()).where(OutboxMessage.kind == "event_update")
                    )
                print(
                    f"after: going {after.get('going', 0)}, waitlisted "
                    f"{after.get('waitlist', 0)}, no {after.get('no', 0)}; promoted told {told}"
                )
                ok = (
                    ok
                    and after
                    == {
                        "going": capacity,
                        "waitlist": people - capacity - len(leaving),
                        "no": len(leaving),
                    }
                    and told == len(leaving)
                )
            print("OK" if ok else "WRONG: seats were not counted exactly")
            return 0 if ok else 1
        finally:
            await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument("--cancel", type=int, default=50)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--at-once",
        type=int,
        help="presses handled at a time (default: `[inbox] concurrency`, as serve handles them; "
        "0: all at once)",
    )
    args = parser.parse_args()
    sys.exit(
        asyncio.run(main(args.people, args.capacity, args.cancel, args.database_url, args.at_once))
    )
