"""iCalendar files for events (RFC 5545, with the `icalendar` library).

The UID is the event's own, fixed at creation, and SEQUENCE is bumped on every change, so a
calendar that imports the file again updates (or, for a cancellation, removes) the entry it
already has instead of adding a second one. Times carry the event's time zone (DTSTART;TZID=…)
with its VTIMEZONE, so the entry shows at the right local time wherever it is opened."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as VEvent

from bot.core.types import Attachment
from storage.models import Event

PRODID = "-//alumni-bot//events//EN"
MIME = "text/calendar"


def calendar(event: Event) -> Calendar:
    cancelled = event.status == "cancelled"
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    entry = VEvent()
    entry.add("uid", event.uid)
    entry.add("sequence", event.sequence)
    entry.add("dtstamp", event.updated_at.astimezone(UTC))
    entry.add("last-modified", event.updated_at.astimezone(UTC))
    entry.add("created", event.created_at.astimezone(UTC))
    entry.add("summary", event.title)
    zone = ZoneInfo(event.timezone)
    entry.add("dtstart", event.starts_at.astimezone(zone))
    entry.add("dtend", event.ends_at.astimezone(zone))
    if event.description:
        entry.add("description", event.description)
    location = ", ".join(x for x in (event.place, event.online_url) if x)
    if location:
        entry.add("location", location)
    if event.online_url:
        entry.add("url", event.online_url)
    entry.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    cal.add_component(entry)
    # The VTIMEZONE only needs the rules around the event, not fifty years of them.
    start = event.starts_at.date()
    cal.add_missing_timezones(start - timedelta(days=400), start + timedelta(days=400))
    return cal


def filename(event: Event) -> str:
    """The event's local date and its title, as a person would name the file:
    `2026-12-10-第2回-交流会.ics`. Letters and digits of any script stay (Japanese titles used to
    leave `2-5.ics`); everything else, from spaces to what a file system refuses (`/ : * ? "`),
    becomes one `-`."""
    day = event.starts_at.astimezone(ZoneInfo(event.timezone)).date().isoformat()
    title = unicodedata.normalize("NFKC", event.title)
    slug = re.sub(r"[\W_]+", "-", title).strip("-")[:40].strip("-")
    return f"{day}-{slug}.ics" if slug else f"{day}-event-{event.id}.ics"


def attachment(event: Event) -> Attachment:
    """The event's file. Building one costs ~40 ms of CPU (mostly the VTIMEZONE), so each
    version of an event is built once and kept: the key holds everything the file shows."""
    key = (
        event.id, event.uid, event.sequence, event.status, event.updated_at, event.created_at,
        event.title, event.description, event.timezone, event.starts_at, event.ends_at,
        event.place, event.online_url,
    )  # fmt: skip
    found = _BUILT.get(key)
    if found is None:
        found = Attachment(filename(event), calendar(event).to_ical(), MIME)
        if len(_BUILT) >= _KEEP:
            _BUILT.pop(next(iter(_BUILT)))
        _BUILT[key] = found
    return found


_KEEP = 128  # event versions kept
_BUILT: dict[tuple[object, ...], Attachment] = {}
