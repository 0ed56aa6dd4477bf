"""What every engagement-review query is narrowed by: a date range and a segment.

The segment grammar is the broadcasts' (`all`, `department:NAME`, `skill:NAME`,
`channel:NAME` of any deliverable platform, also `join_route:…`, `comeback`, `event:ID`), parsed by
`storage.broadcasts.parse_segment`; here it becomes a SQL condition on `people`, so that every
section is computed in the database whatever the segment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.segments import BadSegment, Segment, parse_segment

DEFAULT_DAYS = 365
MAX_DAYS = 366 * 20
ALL = Segment("all")
UTC_ZONE = ZoneInfo("UTC")


class BadFilter(ValueError):
    """`key` is the message explaining what is wrong (admin.po or broadcasts.po)."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Filter:
    start: date  # first day, inclusive
    end: date  # last day, inclusive
    segment: Segment = ALL
    zone: ZoneInfo = UTC_ZONE
    """the company's zone (`DEFAULT_TIMEZONE`): where the range's days begin and end, and the
    zone exports write their timestamps in"""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def per_year(self) -> float:
        """Multiply a count over the range by this to get a count a year."""
        return 365.0 / self.days

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, self.zone)

    @property
    def until(self) -> datetime:
        """The first instant after the range (timestamps are compared with `<`)."""
        return datetime.combine(self.end + timedelta(days=1), time.min, self.zone)

    def describe(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()} · {self.segment}"


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadFilter("admin.bad_date", value=text[:40]) from None


def make_filter(
    today: date,
    start: str | date | None = None,
    end: str | date | None = None,
    segment: str | None = None,
    zone: str | None = None,
) -> Filter:
    """The last 365 days of everyone unless told otherwise; bad input raises BadFilter."""
    last = parse_date(end) if isinstance(end, str) else (end or today)
    first = parse_date(start) if isinstance(start, str) else start
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadFilter("admin.from_after_to", start=first.isoformat(), end=last.isoformat())
    if (last - first).days > MAX_DAYS:
        raise BadFilter("admin.range_too_long")
    chosen = ALL
    if segment and segment.strip().lower() != "all":
        try:
            chosen = parse_segment(segment)
        except BadSegment as exc:
            key = "admin.bad_segment" if exc.key == "broadcasts.bad_segment" else exc.key
            raise BadFilter(key, value=segment[:60]) from None
    return Filter(first, last, chosen, ZoneInfo(zone) if zone else UTC_ZONE)
