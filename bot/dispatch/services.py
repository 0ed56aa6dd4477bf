"""What features' scheduled work gets: settings, the database, the catalogs and the clock.

Narrower than `App` (which adds the dispatcher and lives in the runtime), so handlers depend on
the layer below them, never on the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.core.clock import Clock, zone_of
from bot.core.i18n import Catalogs, Translator
from bot.core.settings import Settings
from bot.core.workdays import WorkCalendar, country_of
from storage.db import Database


class Addressee(Protocol):
    """Someone a message is written for: a `Person`, or a row carrying their choices."""

    @property
    def locale(self) -> str | None: ...

    @property
    def timezone(self) -> str | None: ...


class Addressing:
    """How to write to another person: their language and time zone, else the defaults.

    One home for what `Services` (scheduled work) and `Context` (a handler) both need."""

    settings: Settings
    catalogs: Catalogs

    def translator_for(self, who: Addressee) -> Translator:
        return self.catalogs.for_person(who.locale, self.settings.default_locale)

    def zone_for(self, who: Addressee) -> ZoneInfo:
        return zone_of(who.timezone, self.settings.default_timezone)

    def workdays_for(self, who: Addressee) -> WorkCalendar:
        """The days proactive messages may land on for this person: not their weekends, their
        country's public holidays (the one they chose, else their zone's) or the company's
        closures."""
        calendar = self.settings.calendar
        weekend = frozenset(calendar.weekend) if calendar.weekend is not None else None
        zone = who.timezone or self.settings.default_timezone
        country = getattr(who, "country", None) or country_of(zone)
        return _calendar(country, tuple(calendar.closures), weekend)


@lru_cache(maxsize=256)
def _calendar(
    country: str | None, closures: tuple[tuple[date, date], ...], weekend: frozenset[int] | None
) -> WorkCalendar:
    """One calendar a country (and its caches) for a whole tick, not one a person."""
    return WorkCalendar(country, closures, weekend)


@dataclass
class Services(Addressing):
    settings: Settings
    db: Database
    catalogs: Catalogs
    clock: Clock
