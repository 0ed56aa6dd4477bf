"""The delivery worker: takes due messages from the outbox and sends them through the channels,
within each platform's rate limits, at hours the recipient accepts.

One pass of the loop: claim a batch under a lease (storage/delivery.py), decide for each message
whom it goes to *now* (the person's reachable identity with the lowest priority; the console's
inbox only for someone reachable nowhere else), hold it if the person is in their quiet hours
(not for the console's inbox, which rings nothing), reserve a send
time in the shared rate-limit buckets, send at that time, and write back what happened:

- sent → `sent`;
- 429 → the bucket (the whole channel, or the chat) is paused for `retry_after`, for every
  worker, and the message goes back to the queue until then: never dropped, no attempt used;
- permanent error → that identity is marked unreachable and the message is tried on the next
  one; with none left it is `dead` with the reason;
- network error / 5xx → `failed`, retried after an exponential backoff with jitter, `dead`
  after `max_attempts`.

A worker asked to stop (`stop()`, on SIGTERM or SIGINT) claims nothing more, lets the sends
already started finish (each bounded by `send_timeout_seconds`), writes their outcomes and puts
the messages it claimed but did not send back in the queue, lease cleared, for any worker to take
at once (`Stats.released`). Outcomes are written back in short transactions; a failed write is
retried and its rows are kept in memory until written (bot/runtime/outcomes.py), so a message
this worker sent is recorded `sent` and never sent again by it. A worker killed mid-batch leaves
its rows `sending`; after the lease they are claimed again and sent once more. Duplicates are
therefore bounded by what was in flight, and every reclaimed row is counted (`Stats.reclaimed`)
and logged. Paused people's messages are not claimed at all: they wait for `pause` to be lifted.

The decisions about each message are bot/runtime/delivery_plan.py's; one send and what it
writes back is bot/runtime/delivery_send.py's; the rules themselves are delivery_rules.py's."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.core.channel import (
    Channel,
    Prepares,
)
from bot.core.platforms import is_mail, platform
from bot.core.types import Reply
from bot.runtime.app import App
from bot.runtime.delivery_plan import Batch, Planned, Stats
from bot.runtime.delivery_rules import (
    CAP_COUNTS,
    WEEK,
)
from bot.runtime.delivery_send import Sending
from bot.runtime.outcomes import WRITE_ERRORS, Outcomes
from handlers import ON_BROADCAST_DELIVERED
from storage import delivery as store
from storage import mail, quota
from storage.models import OutboxKind, OutboxState

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
FLUSH_EVERY = 50  # outcomes written per transaction while a batch is being sent
PRUNE_EVERY = timedelta(minutes=10)


class Worker(Sending):
    def __init__(
        self,
        app: App,
        channels: Mapping[str, Channel],
        *,
        name: str | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.cfg = app.settings.delivery
        self.channels = dict(channels)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.stats = Stats()
        self.paused: dict[str, datetime] = {}  # buckets this worker saw a 429 for
        # Capped messages sent to each person of the batch being planned in the last 7 days.
        self.recent: dict[int, list[datetime]] = {}
        self._pruned_at: datetime | None = None
        self._stopping = False
        self._napping: set[asyncio.Task[Any]] = set()
        self.outcomes = Outcomes(app.db, sleep, self.name)
        self._broadcasts: set[int] = set()  # to close once their outcomes are written
        # Platforms with a monthly plan (LINE): their sends this month, read at each claim and
        # counted up as messages are planned, so one batch does not overshoot the plan.
        self.metered = [n for n in self.channels if platform(n).quota(app.settings)]
        self.used: dict[str, int] = {}
        self.sends: dict[str, int] = {}  # sent on metered platforms, not yet added to the count

    def stop(self) -> None:
        """Finish the sends under way, release the rest, and return from `run`."""
        self._stopping = True
        for task in self._napping:  # wake them: nap() turns this cancel into a return
            task.cancel()

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def nap(self, seconds: float) -> None:
        """Sleep, but wake up when the worker is asked to stop. The sleep is awaited in this
        task (not a task of its own) so a VirtualSleep orders the waits exactly as before."""
        task = asyncio.current_task()
        if self.stopping or seconds <= 0 or task is None:
            return
        self._napping.add(task)
        try:
            await self.sleep(seconds)
        except asyncio.CancelledError:
            if not self.stopping or task.uncancel() > 0:
                raise  # a real cancellation, not (only) stop()'s
        finally:
            self._napping.discard(task)

    def announce(self) -> None:
        if self.app.db.is_sqlite:
            log.warning(
                "delivery worker %s on SQLite: run a single worker (several need PostgreSQL)",
                self.name,
            )
        else:
            log.info("delivery worker %s started", self.name)
        if not self.channels:
            log.warning("delivery worker %s has no channel: messages will wait", self.name)

    async def run(self, *, drain: bool = False) -> Stats:
        """Deliver until cancelled or stopped; with `drain`, until nothing is due (retries due
        within `drain_wait_seconds` are waited for)."""
        self.announce()
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while not self.stopping:
                try:
                    if self.outcomes and not await self.flush():
                        await self.nap(self.cfg.poll_seconds)  # claim nothing until written
                        continue
                    if len(in_flight) < self.cfg.batches_in_flight:
                        batch = await self.claim()
                        if batch.planned:
                            in_flight.add(asyncio.create_task(self.deliver(batch.planned)))
                        if batch.claimed:
                            continue
                    if in_flight:
                        done, in_flight = await asyncio.wait(
                            in_flight,
                            timeout=self.cfg.poll_seconds,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                        for task in done:
                            task.result()
                        continue
                    if drain:
                        due = await self.next_due()
                        if due is None or due > self.now + timedelta(
                            seconds=self.cfg.drain_wait_seconds
                        ):
                            break
                        await self.sleep_until(due)
                    else:
                        await self.prune()
                        await self.nap(self.cfg.poll_seconds)
                except (asyncio.CancelledError, KeyboardInterrupt):
                    raise
                except Exception:
                    self.stats.errors += 1
                    log.exception("delivery worker %s: loop failed; going on", self.name)
                    if drain and self.stats.errors > 10:
                        raise
                    await self.nap(self.cfg.poll_seconds)
            if in_flight:  # stopping: the batches finish their started sends and release the rest
                results = await asyncio.gather(*in_flight, return_exceptions=True)
                in_flight = set()
                for result in results:
                    if isinstance(result, Exception):
                        self.stats.errors += 1
                        log.error(
                            "delivery worker %s: a batch failed while stopping",
                            self.name,
                            exc_info=result,
                        )
            if self.outcomes:
                await self.flush()
        finally:
            for task in in_flight:
                task.cancel()
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
        if self.stopping:
            log.info(
                "delivery worker %s stopped: released %d claimed but unsent messages back to the"
                " queue (%s)",
                self.name,
                self.stats.released,
                self.stats.summary(),
            )
        else:
            log.info("delivery worker %s drained: %s", self.name, self.stats.summary())
        return self.stats

    async def sleep_until(self, when: datetime) -> None:
        await self.nap((when - self.now).total_seconds())

    async def next_due(self) -> datetime | None:
        async with self.app.db.transaction() as session:
            return await store.next_due(session, self.now)

    async def prune(self) -> None:
        now = self.now
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        async with self.app.db.transaction() as session:
            await store.prune_rate_limits(session, now - timedelta(hours=1))

    # -- claim and plan ---------------------------------------------------------------------

    async def claim(self) -> Batch:
        now = self.now
        batch = Batch()
        written: list[dict[str, Any]] = []
        settled: list[dict[str, Any]] = []  # outcomes kept in memory, written here instead
        finished: set[int] = set()
        async with self.app.db.transaction() as session:
            claimed = await store.claim(
                session,
                worker=self.name,
                now=now,
                limit=self.cfg.batch_size,
                lease=timedelta(seconds=self.cfg.lease_seconds),
            )
            if not claimed:
                return batch
            batch.claimed = len(claimed)
            if self.metered:
                self.used = await quota.used(session, self.metered, quota.month_of(now))
            self.stats.claimed += len(claimed)
            people = await store.people_with_identities(
                session, (c.message.person_id for c in claimed if c.message.person_id)
            )
            self.recent = await store.recent_sends(session, people, CAP_COUNTS, now - WEEK)
            contacts = await mail.contacts(
                session,
                (
                    c.message.person_id
                    for c in claimed
                    if c.message.person_id and is_mail(c.message.channel)
                ),
            )
            writers = await store.identities_by_id(
                session,
                (
                    c.message.identity_id
                    for c in claimed
                    if c.message.kind == OutboxKind.ANSWER and c.message.identity_id
                ),
            )
            for item in claimed:
                message = item.message
                pending = self.outcomes.rows.get(message.id)
                if pending is not None:  # its lease ran out while its outcome was unwritten
                    log.warning(
                        "outbox %s: claimed again before its outcome (%s) was written: writing"
                        " that, not sending it again",
                        message.id,
                        pending["state"],
                    )
                    settled.append(pending)
                    continue
                if item.reclaimed:
                    self.stats.reclaimed += 1
                    log.warning(
                        "outbox %s: lease expired (was %s): sending again",
                        message.id,
                        message.leased_by,
                    )
                if message.kind == OutboxKind.ANSWER:
                    writer = writers.get(message.identity_id or 0)
                    planned, row = self.plan_answer(message, writer, now)
                elif is_mail(message.channel):
                    person = people.get(message.person_id) if message.person_id else None
                    contact = contacts.get(message.person_id or 0)
                    planned, row = self.plan_mail(message, person, contact, now)
                else:
                    person = people.get(message.person_id) if message.person_id else None
                    planned, row = self.plan(message, person, now)
                if planned is not None:
                    batch.planned.append(planned)
                if row is not None:
                    written.append(row)
                    if row["state"] == OutboxState.DEAD and message.broadcast_id is not None:
                        finished.add(message.broadcast_id)
            await store.write_outcomes(session, written + settled)
        self.outcomes.forget(settled)
        if finished:
            await self.finish_broadcasts(finished)
        if batch.planned:
            await self.reserve(batch, now)
        return batch

    async def reserve(self, batch: Batch, now: datetime) -> None:
        horizon = now + timedelta(seconds=self.cfg.max_ahead_seconds)
        async with self.app.db.transaction() as session:
            slots = await store.reserve(session, now, [p.buckets for p in batch.planned], horizon)
            kept: list[Planned] = []
            later: list[dict[str, Any]] = []
            for planned, (slot, reserved) in zip(batch.planned, slots, strict=True):
                if reserved:
                    planned.slot = slot
                    kept.append(planned)
                else:
                    later.append(self.requeue(planned.message, slot, "rate limit"))
            await store.write_outcomes(session, later)
        batch.planned = kept

    # -- outcomes -----------------------------------------------------------------------------

    # -- send ---------------------------------------------------------------------------------

    async def deliver(self, planned: list[Planned]) -> None:
        """Send each message at its reserved time, several at once (a platform call takes a
        while), writing outcomes back as they come."""
        planned.sort(key=lambda p: (p.slot or self.now, p.message.id))
        await self.prepare(planned)
        tasks: list[asyncio.Task[None]] = []

        async def one(p: Planned) -> None:
            self.outcomes.add(await self.send(p, self.outcomes.identities))
            if p.message.broadcast_id is not None:
                self._broadcasts.add(p.message.broadcast_id)

        for n, p in enumerate(planned):
            if p.slot is not None:
                await self.sleep_until(p.slot)
            if self.stopping:  # what has not started is given back, not sent
                for q in planned[n:]:
                    self.outcomes.add(self.release(q.message))
                break
            tasks.append(asyncio.create_task(one(p)))
            await asyncio.sleep(0)
            if len(self.outcomes) >= FLUSH_EVERY and not self.outcomes.failing:
                await self.flush()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                self.stats.errors += 1
                log.error("delivery worker %s: a send failed", self.name, exc_info=result)
        await self.flush()

    async def prepare(self, planned: list[Planned]) -> None:
        """Let each channel that can get the batch ready at once (its button tokens in one
        transaction, not one a message). A failure here costs only speed: `send` copes."""
        by_channel: dict[str, list[Planned]] = {}
        for p in planned:
            p.reply = Reply.from_dict(p.message.payload)
            by_channel.setdefault(p.recipient.channel, []).append(p)
        for name, ps in by_channel.items():
            channel = self.channels.get(name)
            if not isinstance(channel, Prepares):
                continue
            try:
                await channel.prepare([(p.to, p.reply) for p in ps if p.reply is not None])
            except Exception:
                log.exception(
                    "delivery worker %s: preparing %d %s messages", self.name, len(ps), name
                )

    async def flush(self) -> bool:
        """Write the outcomes kept in memory (retrying); close the broadcasts they finish.
        False when they are still unwritten: they stay, and nothing new is claimed."""
        written = await self.outcomes.write()
        self.stats.write_failures = self.outcomes.failures
        if self.sends:
            await self.count_sends()
        if written and self._broadcasts:
            ids, self._broadcasts = self._broadcasts, set()
            try:
                await self.finish_broadcasts(ids)
            except WRITE_ERRORS:
                self._broadcasts |= ids  # closed after the next write
                log.exception("delivery worker %s: closing broadcasts %s failed", self.name, ids)
        return written

    async def count_sends(self) -> None:
        """Add what this worker sent on metered platforms to the month's count: one short write
        a flush, not one a send (a crash before it undercounts what was in flight; the
        platform's own refusal at its limit still holds)."""
        sends, self.sends = self.sends, {}
        month = quota.month_of(self.now)
        try:
            for channel, n in sends.items():
                await quota.add(self.app.db, channel, month, n)
        except WRITE_ERRORS:
            for channel, n in sends.items():  # counted at the next flush
                self.sends[channel] = self.sends.get(channel, 0) + n
            log.exception("delivery worker %s: the monthly count was not written", self.name)

    async def finish_broadcasts(self, ids: set[int]) -> None:
        async with self.app.db.transaction() as session:
            await ON_BROADCAST_DELIVERED(session, self.app, sorted(ids), self.now)


def channel_map(channels: list[Channel]) -> dict[str, Channel]:
    return {c.name: c for c in channels}
