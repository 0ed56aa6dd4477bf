"""One send through a channel and the row it writes back (bot/runtime/delivery.py runs the
loop): a 429 pauses the bucket for every worker and requeues, a permanent error marks the
identity unreachable (or, for a mail, the address bounced) and tries the next, a network error
or 5xx retries with backoff, and a send records where it went."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from bot.core.channel import RateLimited, TransientError, Unreachable
from bot.core.metrics import DELIVERIES
from bot.core.types import Reply
from bot.runtime.delivery_plan import Planned, Planning, log
from bot.runtime.outcomes import WRITE_ERRORS, Outcomes
from storage import delivery as store


class Sending(Planning):
    """What `Worker` does with one planned message; the state it uses is the worker's own."""

    paused: dict[str, datetime]  # buckets this worker saw a 429 for, until when
    outcomes: Outcomes
    sends: dict[str, int]  # sent on metered platforms, not yet added to the month's count

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
