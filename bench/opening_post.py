"""Posting one opening end to end, at 1,000 / 10,000 / 100,000 alumni open to a comeback.

    python -m bench.opening_post [--people 1000,10000,100000] [--posts 5]
                                 [--database-url postgresql://postgres@127.0.0.1:5432/test]

Each size gets a throwaway database (`fresh_db.py`) of generated alumni (the skills, roles,
departments and places of bench/job_matching.py; consented, most open to a comeback; their
`updated_at` spread over the past year, as real edits are; not timed). HR's form is submitted the
way Slack's modal submits it (`Dispatcher.submit_values`: identity and roles, the form checked,
`jobs.save` — save, match, store the matches, queue the notices — and the commit). One sample is
that call until it returns: HR's answer; the notices are queued in the same transaction, so
they are queued at the same moment. Then the rows queued are counted.

Per size: the *first* posting in the process (the index is built), then `--posts` more (the
index is brought up to date with the people changed since: none here, and one profile edit
between postings), then the same number the way it was before issue 17 (every profile read and
the index rebuilt per posting). Baseline, in the same process: an empty route through the same
dispatcher (one transaction, the identity lookup). Every figure is also printed as a ratio to
the 1,000-people figure of the same kind (target: 100,000 at most 2× 1,000).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bench.fresh_db import fresh_database
from bench.job_matching import make_openings, make_profiles, skill_pool
from bot.channels.console import ConsoleChat
from bot.core.clock import FixedClock
from bot.core.matching import ProfileIndex, Wanted
from bot.core.settings import Settings
from bot.core.types import Actor, Incoming, Reply
from bot.dispatch.router import Dispatcher, Route, Router
from bot.runtime.app import App
from handlers import ROUTES
from storage import job_index, people
from storage.jobs import candidates
from storage.models import OutboxMessage, Person, Role

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
CHUNK = 5000
HR = "hr@example.com"


async def populate(app: App, count: int) -> None:
    rng = random.Random(17)
    profiles = make_profiles(rng, count, skill_pool(rng, 5000))
    for start in range(0, count, CHUNK):
        rows = [
            {
                "id": p.id, "email": f"p{p.id}@example.com", "name": f"Person {p.id}",
                "left_on": date(2024, 1, 1), "consent_at": NOW - timedelta(days=400),
                "skills": list(p.skills), "desired_roles": list(p.desired_roles),
                "department": p.department, "location": p.location,
                "comeback": rng.choice(["open", "maybe", "maybe", "not_now"]), "opt_outs": [],
                "locale": rng.choice(["ja", "en"]), "timezone": "Asia/Tokyo", "paused": False,
                "created_at": NOW - timedelta(days=400),
                "updated_at": NOW - timedelta(minutes=rng.randrange(10, 525_600)),
            }
            for p in profiles[start : start + CHUNK]
        ]  # fmt: skip
        async with app.db.transaction() as session:
            await session.execute(insert(Person), rows)
    async with app.db.transaction() as session:
        hr = Person(id=count + 1, email=HR, name="HR", consent_at=NOW, locale="en",
                    created_at=NOW, updated_at=NOW - timedelta(days=1))  # fmt: skip
        session.add(hr)
        await session.flush()
        await people.grant(session, hr, Role.HR, None, NOW)
    if app.db.engine.dialect.name == "postgresql":
        await app.db.engine.dispose()  # fresh connections see the new sequence values
        async with app.db.engine.begin() as conn:
            await conn.execute(text("SELECT setval('people_id_seq', (SELECT max(id) FROM people))"))
            await conn.execute(text("ANALYZE"))
    await ConsoleChat(app, HR).link()


async def empty(ctx: object, msg: Incoming) -> Reply:
    return Reply("")


async def rebuild(session: AsyncSession) -> ProfileIndex:
    """Before issue 17: every candidate read, the index built, for each posting."""
    return ProfileIndex(await candidates(session))


async def queued(app: App) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def main(sizes: list[int], posts: int, server: str) -> None:
    rng = random.Random(3)
    openings = make_openings(rng, 1 + 3 * posts)
    firsts: dict[str, float] = {}
    for count in sizes:
        async with fresh_database(server) as url:
            app = App.build(Settings(database_url=url), FixedClock(NOW))
            try:
                await one_size(app, count, openings, posts, firsts)
            finally:
                await app.close()


async def one_size(
    app: App, count: int, openings: list[Wanted], posts: int, firsts: dict[str, float]
) -> None:
    started = time.perf_counter()
    await populate(app, count)
    print(f"\n{count:,} alumni, {app.db.engine.dialect.name} "
          f"(generated in {time.perf_counter() - started:.1f} s, not timed)")  # fmt: skip
    router = Router([*ROUTES, Route(empty, command="noop", consent=False)])
    dispatcher = Dispatcher(app.db, app.settings, app.catalogs, router, app.clock)
    actor = Actor("console", HR)
    [asked] = await dispatcher.dispatch(Incoming(actor, "bench", text="/postjob"), step_forms=False)
    assert asked.form is not None, asked.text
    form = asked.form

    async def post(i: int) -> tuple[float, float, int]:
        o = openings[i]
        values = {
            "title": o.title, "department": o.department or "", "location": o.location or "",
            "description": "Bench", "skills": "; ".join(o.skills),
            "nice_to_have": "; ".join(o.nice_to_have), "remote": "no",
            "employment_type": "full_time", "welcome_note": "", "closes_on": "",
        }  # fmt: skip
        app.clock.advance(days=8)  # type: ignore[attr-defined]  # everyone's weekly slot free
        before = await queued(app)
        cpu, wall = time.process_time(), time.perf_counter()
        replies = await dispatcher.submit_values(Incoming(actor, "bench"), form, values)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert isinstance(replies, list) and "Posted" in replies[0].text, replies
        return wall, cpu, await queued(app) - before

    async def noop() -> float:
        start = time.perf_counter()
        await dispatcher.dispatch(Incoming(actor, "bench", text="/noop"))
        return time.perf_counter() - start

    async def edit(i: int) -> None:  # someone edits their profile between postings
        async with app.db.transaction() as session:
            await session.execute(
                update(Person).where(Person.id == i + 1)
                .values(skills=["Python", "SQL"], updated_at=app.clock.now())
            )  # fmt: skip

    base = statistics.median([await noop() for _ in range(30)])
    show("first posting (index built)", await post(0), base, firsts, count)
    kept = []
    for i in range(1, 1 + posts):
        await edit(i)
        kept.append(await post(i))
    show("posting, index kept, 1 edit", median(kept), base, firsts, count)
    kept_again = [await post(i) for i in range(1 + posts, 1 + 2 * posts)]
    show("posting, index kept", median(kept_again), base, firsts, count)
    real = job_index.profile_index
    job_index.profile_index = rebuild
    try:
        old = [await post(i) for i in range(1 + 2 * posts, 1 + 3 * posts)]
    finally:
        job_index.profile_index = real
    show("before: rebuilt per posting", median(old), base, firsts, count)


def median(samples: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    return (
        statistics.median(s[0] for s in samples),
        statistics.median(s[1] for s in samples),
        int(statistics.median(s[2] for s in samples)),
    )


def show(
    name: str,
    sample: tuple[float, float, int],
    base: float,
    firsts: dict[str, float],
    count: int,
) -> None:
    wall, cpu, told = sample
    first_wall = firsts.setdefault(name, wall)
    first_cpu = firsts.setdefault(name + " CPU", cpu)
    smallest = int(firsts.setdefault("smallest size", count))
    print(f"  {name:<29} answer {wall * 1000:8.1f} ms (CPU {cpu * 1000:7.1f} ms), "
          f"{told:3} notices queued; {wall / base:6.1f}x the empty route ({base * 1000:.1f} ms); "
          f"at {smallest:,}: {wall / first_wall:5.2f}x, CPU {cpu / first_cpu:5.2f}x")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", default="1000,10000,100000")
    parser.add_argument("--posts", type=int, default=5)
    parser.add_argument("--database-url", default="sqlite://")
    args = parser.parse_args()
    sizes = [int(x) for x in args.people.split(",")]
    asyncio.run(main(sizes, args.posts, args.database_url))
