"""When the next check-in, survey or nudge is due: local wall-clock times made UTC.

Pure functions, so DST in Europe/London and the date line (Asia/Tokyo, UTC+14, UTC−11) can be
tested without a database. A cadence advances from *now*, not from the missed time, so a worker
that was down for three months sends one check-in, not three."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.core.workdays import WorkCalendar
from storage.models import Cadence

CADENCE_DAYS = {Cadence.WEEKLY: 7, Cadence.BIWEEKLY: 14}
CADENCE_MONTHS = {Cadence.MONTHLY: 1, Cadence.QUARTERLY: 3}


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def spread_minute(person_id: int, start: time, end: time) -> int:
    """A stable minute of the local day inside [start, end) for someone without a preference.

    Multiplying by a large odd constant scatters consecutive ids across the window."""
    first = start.hour * 60 + start.minute
    width = max((end.hour * 60 + end.minute) - first, 1)
    return first + (person_id * 2654435761) % width


# Both are pure and asked the same question for everyone who shares a zone, a calendar, a
# cadence and a minute: a tick over 100,000 people computes a few thousand of each, not 100,000.
@lru_cache(maxsize=16384)
def at_local(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """`day` at `minute` past local midnight, in UTC. A time that does not exist (a DST gap)
    moves forward by the gap; an ambiguous one (the repeated hour) takes its first instance."""
    local = datetime.combine(day, time(minute // 60, minute % 60), zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        utc = (local + timedelta(hours=1)).astimezone(UTC)  # nonexistent: after the gap
    return utc


@lru_cache(maxsize=16384)
def next_due(
    cadence: str,
    minute: int,
    zone: ZoneInfo,
    now: datetime,
    first: bool,
    days: WorkCalendar | None = None,
    stretch: int = 1,
) -> datetime | None:
    """The next check-in after `now`. The first one comes at the next preferred time (today or
    the next day); later ones one cadence period after today's local date. With `days`, a day
    that is not a working day (a weekend, a holiday, a closure) gives way to the next one, at
    the same local time. `stretch` multiplies the period (2: monthly becomes every two months,
    for someone who stopped answering)."""
    if cadence == Cadence.OFF:
        return None
    work = days.next_working if days is not None else _same
    today = now.astimezone(zone).date()
    if first:
        candidate = at_local(work(today), minute, zone)
        if candidate > now:
            return candidate
        return at_local(work(today + timedelta(days=1)), minute, zone)
    if cadence in CADENCE_DAYS:
        day = today + timedelta(days=CADENCE_DAYS[Cadence(cadence)] * stretch)
    else:
        day = add_months(today, CADENCE_MONTHS.get(Cadence(cadence), 1) * stretch)
    return at_local(work(day), minute, zone)


def planned(
    cadence: str,
    minute: int,
    zone: ZoneInfo,
    now: datetime,
    count: int,
    days: WorkCalendar | None = None,
    next_at: datetime | None = None,
    stretch: int = 1,
) -> list[datetime]:
    """The next `count` check-ins as the ticks will send them: the one already set (`next_at`,
    moved off a day that is no longer a working day), then one cadence period after another."""
    out: list[datetime] = []
    at = next_at if next_at is not None and next_at > now else None
    if at is not None and days is not None:
        local = at.astimezone(zone)
        at = at_local(days.next_working(local.date()), local.hour * 60 + local.minute, zone)
    at = at or next_due(cadence, minute, zone, now, first=True, days=days)
    while at is not None and len(out) < count:
        out.append(at)
        at = next_due(cadence, minute, zone, at, first=False, days=days, stretch=stretch)
    return out


def _same(day: date) -> date:
    return day


def period_of(moment: datetime, zone: ZoneInfo) -> str:
    """The survey period a moment falls in, in the person's own calendar: 2026H1, 2026H2."""
    local = moment.astimezone(zone)
    return f"{local.year}H{1 if local.month <= 6 else 2}"
