"""Periodic ticks. The work itself is rows in the database (`next_checkin_at`, `next_survey_at`,
event reminders…), claimed safely by however many workers run; APScheduler 3.11 only ticks.

No APScheduler job per person, and no shared job store (several 3.x schedulers sharing one run
jobs twice or miss them): each worker keeps its ticks in memory. `misfire_grace_time` and
`coalesce` are explicit, and on start every tick runs once, so work that fell due while no worker
ran is caught up once — not once per missed tick, because a tick handles everything due."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.dispatch.ticks import Tick
from bot.runtime.app import App
from handlers import TICKS

log = logging.getLogger(__name__)


def ticks() -> list[Tick]:
    """The periodic work: `handlers.TICKS`, the table beside the routes."""
    return list(TICKS)


async def run_tick(app: App, tick: Tick) -> int:
    """One tick, with its failures logged rather than killing the scheduler."""
    try:
        handled = await tick.work(app)
    except Exception:
        log.exception("tick %s failed", tick.name)
        return 0
    if handled:
        log.info("tick %s handled %d", tick.name, handled)
    return handled


async def run_all(app: App, selected: Sequence[Tick] | None = None) -> int:
    """Every tick once, in order: the catch-up on start, `worker --drain`, and tests."""
    return sum([await run_tick(app, t) for t in (selected or ticks())])


@contextlib.asynccontextmanager
async def ticking(app: App) -> AsyncIterator[None]:
    """Catch up once (work that fell due while no worker ran), then tick until the block ends.
    Every worker process runs this; the claims in the ticks keep them from doubling work."""
    await run_all(app)
    scheduler = start(app)
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)


def start(app: App, selected: Sequence[Tick] | None = None) -> AsyncIOScheduler:
    """Start the ticks on the running loop; the caller awaits `run_all` first to catch up."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    for tick in selected or ticks():
        scheduler.add_job(
            run_tick,
            "interval",
            args=(app, tick),
            seconds=tick.every.total_seconds(),
            id=tick.name,
            coalesce=True,  # a late tick runs once, not once per missed interval
            max_instances=1,  # a slow tick is never overlapped by the next
            misfire_grace_time=int(tick.every.total_seconds()),  # the default 1 s drops ticks
        )
    scheduler.start()
    return scheduler
