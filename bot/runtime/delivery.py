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
and logged. Paused people's messages are not claimed at all: they wait for `pause` to be lifted."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core.channel import (
    Channel,
    Prepares,
    RateLimited,
    Recipient,
    TransientError,
    Unreachable,
)
from bot.core.metrics import DELIVERIES
from bot.core.platforms import DELIVERABLE, LOCAL, is_mail, platform
from bot.core.types import Reply
from bot.runtime.app import App
from bot.runtime.delivery_rules import (
    CAP_COUNTS,
    WEEK,
    backoff,
    buckets_for,
    capped_until,
    closed_by_quota,
    pick_identity,
    quiet_until,
)
from bot.runtime.outcomes import WRITE_ERRORS, Outcomes
from handlers import ON_BROADCAST_DELIVERED
from storage import delivery as store
from storage import mail, quota
from storage.models import Identity, MailContact, OutboxKind, OutboxMessage, OutboxState, Person

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
FLUSH_EVERY = 50  # outcomes written per transaction while a batch is being sent
PRUNE_EVERY = timedelta(minutes=10)
NO_CHANNEL_RECHECK = 300  # seconds


@dataclass
class Stats:
    claimed: int = 0
    sent: int = 0
    rate_limited: int = 0  # 429s received (each message went back to the queue)
    retried: int = 0  # network errors / 5xx
    dead: int = 0
    unreachable: int = 0  # identities marked unreachable
    held: int = 0  # quiet hours
    capped: int = 0  # held back by the weekly cap on proactive messages
    reclaimed: int = 0  # claimed after a lease expired: may be sent a second time
    released: int = 0  # claimed, then given back unsent because the worker was stopping
    write_failures: int = 0  # failed attempts to write outcomes (retried, rows kept; logged)
    errors: int = 0  # unexpected errors in the loop itself (logged)

    def summary(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in vars(self).items())


@dataclass
class Planned:
    message: OutboxMessage
    identity: Identity | None  # None: a mail, addressed to the person, not to an identity
    recipient: Recipient
    buckets: list[store.Bucket]
    slot: datetime | None = None
    addressed: bool = False  # an answer to that very chat: not the person's preferred place
    reply: Reply | None = None  # the payload, read once when the batch is prepared

    @property
    def to(self) -> Recipient:
        """The recipient with the row's key, the same for every attempt at this message."""
        return replace(self.recipient, message_key=self.message.idempotency_key)


@dataclass
class Batch:
    planned: list[Planned] = field(default_factory=list)
    claimed: int = 0


class Worker:
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

    @property
    def now(self) -> datetime:
        return self.app.clock.now()

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

    def plan_answer(
        self, message: OutboxMessage, writer: Identity | None, now: datetime
    ) -> tuple[Planned | None, dict[str, Any] | None]:
        """An answer goes back to the chat it was for, for whoever wrote, joined or not."""
        if writer is None or (writer.person is not None and writer.person.is_forgotten):
            return None, self.dead(message, "forgotten: the person who wrote is gone")
        if writer.channel not in self.channels:
            later = now + timedelta(seconds=NO_CHANNEL_RECHECK)
            return None, self.requeue(message, later, f"no channel configured for {writer.channel}")
        recipient = Recipient(writer.channel, writer.workspace, writer.user_id, message.recipient)
        buckets = buckets_for(self.cfg, recipient)
        return Planned(message, writer, recipient, buckets, addressed=True), None

    def plan_mail(
        self,
        message: OutboxMessage,
        person: Person | None,
        contact: MailContact | None,
        now: datetime,
    ) -> tuple[Planned | None, dict[str, Any] | None]:
        """A mail goes to the person's address (private first) unless they unsubscribed or it
        bounced; no quiet hours (a mail waits in the inbox, it does not ring)."""
        if person is None or person.is_forgotten:
            return None, self.dead(message, "forgotten: the person is gone")
        address = mail.address_of(person)
        if contact is None or address is None:
            return None, self.dead(message, "no mail contact or address")
        if contact.unsubscribed_at is not None:
            return None, self.dead(message, "unsubscribed")
        if contact.bounced_at is not None:
            return None, self.dead(message, f"unreachable: bounced: {contact.bounce_reason}")
        channel = message.channel or ""
        if channel not in self.channels:
            later = now + timedelta(seconds=NO_CHANNEL_RECHECK)
            return None, self.requeue(message, later, f"no channel configured for {channel}")
        link = f"{self.app.settings.base_url()}/unsubscribe/{contact.token}"
        recipient = Recipient(channel, "", address, None, unsubscribe_url=link)
        return Planned(message, None, recipient, buckets_for(self.cfg, recipient)), None

    def plan(
        self, message: OutboxMessage, person: Person | None, now: datetime
    ) -> tuple[Planned | None, dict[str, Any] | None]:
        """Whom the message goes to now; or the row to write when it does not go now."""
        if person is None or person.is_forgotten:
            return None, self.dead(message, "forgotten: the person is gone")
        feature = OutboxKind.opt_out_of(message.kind)
        if feature is not None and feature in person.opt_outs:
            return None, self.dead(message, f"opted out of {feature}")
        recent = self.recent.setdefault(person.id, [])
        capped = capped_until(
            message.kind, message.urgent, recent, self.cfg.weekly_cap, now, person.notices
        )
        if capped is not None:
            self.stats.capped += 1
            return None, self.requeue(message, capped, "weekly cap")
        closed = closed_by_quota(self.app.settings, self.used, message.kind, message.urgent)
        identity = pick_identity(person, self.channels, closed)
        rings = identity is None or identity.channel not in LOCAL  # an inbox waits silently
        if rings and not message.urgent:
            until = quiet_until(person, self.app.settings, now)
            if until is not None:
                self.stats.held += 1
                return None, self.requeue(message, until, "quiet hours")
        if identity is None and closed and pick_identity(person, self.channels) is not None:
            # Only a platform whose month is (nearly) used up reaches them: wait for the next.
            self.stats.held += 1
            names = ", ".join(sorted(closed))
            return None, self.requeue(message, quota.next_month(now), f"monthly limit: {names}")
        if identity is None:
            others = sorted(
                {i.channel for i in person.identities if i.reachable and i.channel in DELIVERABLE}
            )
            if others:  # reachable, but not through a channel this worker has: wait for one
                later = now + timedelta(seconds=NO_CHANNEL_RECHECK)
                return None, self.requeue(message, later, f"no channel configured for {others}")
            last = message.last_error or ""
            why = last if last.startswith("unreachable") else "unreachable: no reachable identity"
            return None, self.dead(message, why)
        if identity.channel in self.used:
            self.used[identity.channel] += 1
        recipient = Recipient(
            identity.channel, identity.workspace, identity.user_id, identity.chat_id
        )
        if message.kind in CAP_COUNTS:
            recent.append(now)  # the next capped message in this batch counts this one
        return Planned(message, identity, recipient, buckets_for(self.cfg, recipient)), None

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

    def dead(self, message: OutboxMessage, reason: str) -> dict[str, Any]:
        self.stats.dead += 1
        log.info("outbox %s dead: %s", message.id, reason)
        return store.outcome(
            message, state=OutboxState.DEAD, lease_until=None, leased_by=None, last_error=reason
        )

    def requeue(self, message: OutboxMessage, when: datetime, reason: str) -> dict[str, Any]:
        """Back to the queue without using an attempt (rate limits, quiet hours, next identity)."""
        return store.outcome(
            message,
            state=OutboxState.QUEUED,
            not_before=when,
            attempts=max(message.attempts - 1, 0),
            lease_until=None,
            leased_by=None,
            last_error=reason,
        )

    def release(self, message: OutboxMessage) -> dict[str, Any]:
        """Claimed but not sent (the worker is stopping): back to the queue, due at once."""
        self.stats.released += 1
        return store.outcome(
            message,
            state=OutboxState.QUEUED,
            attempts=max(message.attempts - 1, 0),
            lease_until=None,
            leased_by=None,
        )

    def retry(self, message: OutboxMessage, reason: str) -> dict[str, Any]:
        if message.attempts >= self.cfg.max_attempts:
            return self.dead(message, f"gave up after {message.attempts} attempts: {reason}")
        self.stats.retried += 1
        delay = backoff(self.cfg, message.attempts, self.rng)
        return store.outcome(
            message,
            state="failed",
            not_before=self.now + timedelta(seconds=delay),
            lease_until=None,
            leased_by=None,
            last_error=reason,
        )

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

    async def send(self, p: Planned, identities: list[dict[str, Any]]) -> dict[str, Any]:
        message, now = p.message, self.now
        held = max((self.paused.get(key, now) for key, _ in p.buckets), default=now)
        if held > now:  # another message of this worker hit a 429 meanwhile
            return self.requeue(message, held, "rate limited (paused)")
        channel = self.channels[p.recipient.channel]
        try:
            async with asyncio.timeout(self.cfg.send_timeout_seconds):
                reply = p.reply or Reply.from_dict(message.payload)
                chat_id = await channel.send(p.to, reply)
        except RateLimited as exc:
            self.stats.rate_limited += 1
            DELIVERIES.labels(p.recipient.channel, "rate_limited").inc()
            key = p.buckets[0][0] if exc.scope == "channel" else p.buckets[-1][0]
            until = self.now + timedelta(seconds=max(exc.retry_after, 0.001))
            if self.paused.get(key, now) < until:
                self.paused[key] = until
            try:  # other workers learn of the pause; this one already honours it
                async with self.app.db.transaction() as session:
                    await store.pause(session, key, until, self.now)
            except WRITE_ERRORS:
                log.exception("429 on %s: recording the pause for other workers failed", key)
            log.info("429 on %s: paused %.1fs", key, exc.retry_after)
            return self.requeue(message, until, f"429: {exc}")
        except Unreachable as exc:
            DELIVERIES.labels(p.recipient.channel, "unreachable").inc()
            reason = str(exc)[:200] or "unreachable"
            if p.identity is None:  # a mail bounced (5xx): no more mail to that address
                self.stats.unreachable += 1
                if message.person_id is not None:
                    self.outcomes.bounces.append(
                        {"person_id": message.person_id, "reason": reason, "at": self.now}
                    )
                return self.dead(message, f"unreachable: bounced: {reason}")
            if p.addressed:  # that chat is gone (a group that removed the bot): not the person
                return self.dead(message, f"unreachable: {reason}")
            self.stats.unreachable += 1
            p.identity.reachable = False
            identities.append(
                {"id": p.identity.id, "reachable": False, "unreachable_reason": reason}
            )
            log.info("identity %s unreachable: %s", p.identity.id, reason)
            # Another identity may work: the next claim decides (no attempt used).
            return self.requeue(message, self.now, f"unreachable {p.recipient.channel}: {reason}")
        except (TransientError, TimeoutError) as exc:
            DELIVERIES.labels(p.recipient.channel, "retry").inc()
            return self.retry(message, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            log.exception("outbox %s: channel %s failed", message.id, p.recipient.channel)
            return self.retry(message, f"{type(exc).__name__}: {exc}")
        self.stats.sent += 1
        if p.recipient.channel in self.used:
            self.sends[p.recipient.channel] = self.sends.get(p.recipient.channel, 0) + 1
        DELIVERIES.labels(p.recipient.channel, "sent").inc()
        if p.identity is None:  # a mail: the address it went to
            return store.outcome(
                message, state="sent", sent_at=self.now, lease_until=None, last_error=None,
                channel=p.recipient.channel, recipient=p.recipient.user_id[:128],
            )  # fmt: skip
        if chat_id and chat_id != p.identity.chat_id and not p.addressed:
            p.identity.chat_id = chat_id
            identities.append({"id": p.identity.id, "chat_id": chat_id})
        return store.outcome(
            message,
            state="sent",
            sent_at=self.now,
            lease_until=None,
            last_error=None,
            identity_id=p.identity.id,
            channel=p.recipient.channel,
            workspace=p.recipient.workspace,
            recipient=chat_id or p.recipient.chat_id or p.recipient.user_id,
        )


def channel_map(channels: list[Channel]) -> dict[str, Channel]:
    return {c.name: c for c in channels}
