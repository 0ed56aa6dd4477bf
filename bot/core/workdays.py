"""Working days: no check-in, survey or nudge lands on a weekend, a public holiday of the
person's country, or a company closure (Golden Week, Obon, New Year: `[calendar] closures`).

Public holidays come from the `holidays` library (Japan's substitute and citizens' holidays
included); the country is the person's own or, without one, the one CLDR gives their time zone
(Babel's zone territories: Asia/Tokyo → JP). A zone with no country (UTC) has weekends only.
Pure and cached per country and year, so a tick over 100,000 people asks the library a few
times, not 100,000."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays
from babel.core import get_global

MAX_SHIFT_DAYS = 62  # a closure longer than two months is a mistake, not a reason to loop forever
SAT_SUN = frozenset({5, 6})


@lru_cache(maxsize=1024)
def country_of(zone: str) -> str | None:
    """The ISO 3166 country of an IANA zone (CLDR), or None (UTC, Etc/GMT-9)."""
    territory = get_global("zone_territories").get(zone)
    return territory if territory and territory != "ZZ" and territory != "001" else None


@lru_cache(maxsize=512)
def _year(country: str | None, year: int) -> tuple[frozenset[date], frozenset[int]]:
    if country is None:
        return frozenset(), SAT_SUN
    try:
        found = holidays.country_holidays(country, years=year)
    except NotImplementedError:  # a country the library does not know: weekends only
        return frozenset(), SAT_SUN
    weekend = frozenset(getattr(found, "weekend", SAT_SUN)) or SAT_SUN
    return frozenset(found.keys()), weekend


@dataclass(frozen=True)
class WorkCalendar:
    country: str | None
    closures: tuple[tuple[date, date], ...] = ()
    weekend: frozenset[int] | None = None  # the company's days off (0 = Monday), else the country's

    @lru_cache(maxsize=4096)  # noqa: B019 - asked once a person in a tick, about one day
    def is_working(self, day: date) -> bool:
        holidays_, weekend = _year(self.country, day.year)
        if self.weekend is not None:
            weekend = self.weekend
        if day.weekday() in weekend or day in holidays_:
            return False
        return not any(first <= day <= last for first, last in self.closures)

    @lru_cache(maxsize=4096)  # noqa: B019 - a few calendars, each asked about a few days
    def next_working(self, day: date) -> date:
        """`day` itself when it is a working day, else the first one after it."""
        for shift in range(MAX_SHIFT_DAYS):
            candidate = day + timedelta(days=shift)
            if self.is_working(candidate):
                return candidate
        return day  # nothing works for two months: keep the day rather than lose the message
