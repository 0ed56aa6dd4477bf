"""The delivery worker's decisions about one message, before any send: whom it goes to now, or
why it waits or is given up (bot/runtime/delivery.py runs the loop and the sends).

- an answer goes back to the very chat it was for (`plan_answer`);
- a mail goes to the person's address unless they unsubscribed or it bounced (`plan_mail`);
- anything else goes to the person's reachable identity with the lowest priority among this
  worker's channels (the console's inbox only for someone reachable nowhere else, a platform
  whose monthly plan is spent left out), unless the weekly cap holds it, their quiet hours
  hold it (not for the console's inbox, which rings nothing), or a spent plan makes it wait for
  next month (`plan`);
- and the rows each outcome writes back (`dead`, `requeue`, `release`, `retry`)."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core.channel import Channel, Recipient
from bot.core.platforms import DELIVERABLE, LOCAL
from bot.core.settings import DeliverySettings
from bot.core.types import Reply
from bot.runtime.app import App
from bot.runtime.delivery_rules import (
    CAP_COUNTS,
    backoff,
    buckets_for,
    capped_until,
    closed_by_quota,
    pick_identity,
    quiet_until,
)
from storage import delivery as store
from storage import mail, quota
from storage.models import Identity, MailContact, OutboxKind, OutboxMessage, OutboxState, Person

log = logging.getLogger("bot.runtime.delivery")  # one logger for the worker
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


class Planning:
    """What `Worker` decides per message; the state it reads is the worker's own."""

    app: App
    cfg: DeliverySettings
    channels: dict[str, Channel]
    stats: Stats
    rng: random.Random
    recent: dict[int, list[datetime]]
    used: dict[str, int]

    @property
    def now(self) -> datetime:
        return self.app.clock.now()

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
