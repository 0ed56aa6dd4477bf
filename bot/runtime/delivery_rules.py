"""The rules the delivery worker applies to each message, as pure functions: quiet hours in
the recipient's time zone, which identity a message goes to, which rate-limit buckets a send
goes through, and how long to back off after a network error."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.channel import Channel, Recipient
from bot.core.platforms import DELIVERABLE, LOCAL, platform
from bot.core.settings import DeliverySettings, Settings
from storage import delivery as store
from storage.models import Identity, OutboxKind, Person


def quiet_until(person: Person, settings: Settings, now: datetime) -> datetime | None:
    """The end of the person's quiet hours if `now` falls in them (their time zone, their
    hours or the default ones), else None."""
    start = person.quiet_start or settings.privacy.quiet_start
    end = person.quiet_end or settings.privacy.quiet_end
    if start == end:
        return None
    try:
        zone = ZoneInfo(person.timezone or settings.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(settings.default_timezone)
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    quiet = (start <= t < end) if start < end else (t >= start or t < end)
    if not quiet:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return _at(day, end, zone)


def _at(day: date, clock_time: time, zone: ZoneInfo) -> datetime:
    # A wall time skipped by a DST change is read as the time after the gap (fold=0 then UTC).
    return datetime.combine(day, clock_time, tzinfo=zone).astimezone(ZoneInfo("UTC"))


def buckets_for(cfg: DeliverySettings, recipient: Recipient) -> list[store.Bucket]:
    """The rate-limit buckets one send goes through: the channel's (or its workspace's)
    budget and the chat's own."""
    limit = cfg.limit(recipient.channel)
    whole = recipient.channel + (f":{recipient.workspace}" if limit.per_workspace else "")
    chat = recipient.chat_id or recipient.user_id
    group = platform(recipient.channel).group_chat(chat)
    per_chat = 60.0 / limit.group_per_minute if group else 1.0 / limit.chat_per_second
    return [
        (whole, 1.0 / limit.per_second),
        (f"{recipient.channel}:{recipient.workspace}:chat:{chat}", per_chat),
    ]


def backoff(cfg: DeliverySettings, attempts: int, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random."""
    delay = min(cfg.backoff_max_seconds, cfg.backoff_base_seconds * 2.0 ** max(attempts - 1, 0))
    return delay / 2 + rng.uniform(0, delay / 2)


WEEK = timedelta(days=7)
# What the weekly cap counts, and what it holds back: a check-in counts but always goes (it is
# the bot's first purpose, and backs off by itself); notices, perks and announcements wait.
CAP_COUNTS = frozenset({OutboxKind.CHECKIN, OutboxKind.JOB, OutboxKind.PERK, OutboxKind.EVENT})
CAP_HOLDS = frozenset({OutboxKind.JOB, OutboxKind.PERK, OutboxKind.EVENT})


NOTICE_KINDS = frozenset({OutboxKind.JOB, OutboxKind.PERK})  # what "fewer / more" is about


def capped_until(
    kind: str,
    urgent: bool,
    recent: list[datetime],
    cap: int,
    now: datetime,
    notices: str = "normal",
) -> datetime | None:
    """When a message of `kind` may go to someone sent `recent` capped messages (their send
    times), under a cap of `cap` in any 7 days; None: now. A person who chose "fewer" job and
    perk messages gets those only as the first capped message of a week, "more" two more."""
    if cap <= 0 or urgent or kind not in CAP_HOLDS:
        return None
    if kind in NOTICE_KINDS:
        cap = {"fewer": 1, "more": cap + 2}.get(notices, cap)
    inside = sorted(t for t in recent if t > now - WEEK)
    if len(inside) < cap:
        return None
    return inside[-cap] + WEEK


def closed_by_quota(
    settings: Settings, used: Mapping[str, int], kind: str, urgent: bool
) -> frozenset[str]:
    """Platforms this message may not use now because of their monthly plans: all kinds once
    the month's sends are used up; low-priority kinds once `low_priority_share` of them are."""
    low = OutboxKind.low_priority(kind) and not urgent
    closed: set[str] = set()
    for name, count in used.items():
        q = platform(name).quota(settings)
        if q is None or q.limit is None:
            continue
        if count >= q.limit or (low and count >= q.limit * q.low_priority_share):
            closed.add(name)
    return frozenset(closed)


def pick_identity(
    person: Person, channels: Mapping[str, Channel], closed: frozenset[str] = frozenset()
) -> Identity | None:
    """The reachable identity with the lowest priority among this worker's channels, leaving out
    the platforms `closed` by their monthly plans. A local one (the console's inbox) only for
    someone reachable nowhere else: a worker without Slack leaves a Slack person's message
    waiting for Slack rather than filing it in a terminal."""
    usable = [
        i
        for i in person.identities
        if i.reachable and i.channel in DELIVERABLE and i.channel not in closed
    ]
    usable = [i for i in usable if i.channel not in LOCAL] or usable
    return min(
        (i for i in usable if i.channel in channels), key=lambda i: (i.priority, i.id), default=None
    )
