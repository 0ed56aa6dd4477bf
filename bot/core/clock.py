"""Time comes from a clock that tests can set, never from `datetime.now()` in feature code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that only moves when told to (tests, benchmarks, replays)."""

    current: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 3, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def zone_of(timezone: str | None, default: str) -> ZoneInfo:
    """A person's time zone, or the deployment's default when they have not chosen one."""
    return ZoneInfo(timezone or default)


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar date `moment` falls on where the person is."""
    return moment.astimezone(zone).date()
