"""The scheduler ticks; the work is rows. Catch-up once, no overlapping ticks, housekeeping."""

from __future__ import annotations

from datetime import timedelta

from bot.core.clock import FixedClock
from bot.dispatch.services import Services
from bot.dispatch.ticks import Tick
from bot.runtime import scheduler
from bot.runtime.app import App
from handlers.housekeeping import housekeeping
from storage import inbound


async def test_ticks_are_coalesced_with_an_explicit_grace_time(sqlite_app: App) -> None:
    started = scheduler.start(sqlite_app)
    try:
        jobs = {job.id: job for job in started.get_jobs()}
        assert {"checkins", "surveys", "nudges", "housekeeping"} <= set(jobs)
        for job in jobs.values():
            assert job.coalesce is True and job.max_instances == 1
            assert job.misfire_grace_time >= 60  # not APScheduler's default of 1 s
    finally:
        started.shutdown(wait=False)


async def test_a_failing_tick_is_logged_and_the_others_still_run(sqlite_app: App) -> None:
    async def boom(services: Services) -> int:
        raise RuntimeError("broken tick")

    async def fine(services: Services) -> int:
        return 3

    ticks = [
        Tick("boom", timedelta(minutes=1), boom),
        Tick("fine", timedelta(minutes=1), fine),
    ]
    assert await scheduler.run_all(sqlite_app, ticks) == 3


async def test_housekeeping_forgets_old_event_ids_but_keeps_a_days_worth(
    app: App, clock: FixedClock
) -> None:
    assert await inbound.first_time(app.db, "slack", "Ev1", clock.now())
    clock.advance(hours=30)
    assert await inbound.first_time(app.db, "slack", "Ev2", clock.now())
    await housekeeping(app)
    assert not await inbound.first_time(
        app.db, "slack", "Ev1", clock.now()
    )  # a day later: still known
    clock.advance(hours=50)
    assert await housekeeping(app) >= 1
    assert await inbound.first_time(app.db, "slack", "Ev2", clock.now())  # gone after two days
