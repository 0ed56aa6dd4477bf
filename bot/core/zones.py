"""A time zone as people type it: `Asia/Tokyo`, `tokyo`, `東京`, `JST`, `+09:00`, `UTC+9`.

City names come from the CLDR through Babel (`get_timezone_location(..., return_city=True)`,
in Japanese and English), over the canonical IANA zones; abbreviations people use, which the
IANA database does not define unambiguously, are a short table below; a whole-hour UTC offset
becomes the fixed `Etc/GMT∓N` zone (IANA's reversed sign)."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from functools import cache

from babel.core import get_global
from babel.dates import get_timezone, get_timezone_location

REGIONS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/",
           "Indian/", "Pacific/")  # fmt: skip
# What people in Japan and their colleagues abroad type; only the unambiguous ones (CST, IST
# mean several places and are left to the city name).
ABBREVIATIONS = {
    "jst": "Asia/Tokyo", "日本": "Asia/Tokyo", "japan": "Asia/Tokyo", "日本時間": "Asia/Tokyo",
    "kst": "Asia/Seoul", "sgt": "Asia/Singapore", "hkt": "Asia/Hong_Kong",
    "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles", "est": "America/New_York",
    "edt": "America/New_York", "bst": "Europe/London", "cet": "Europe/Paris",
    "cest": "Europe/Paris", "aest": "Australia/Sydney", "utc": "UTC", "gmt": "UTC",
    # Japanese cities that are not a zone's city: the zone is Tokyo's
    "大阪": "Asia/Tokyo", "osaka": "Asia/Tokyo", "名古屋": "Asia/Tokyo", "nagoya": "Asia/Tokyo",
    "福岡": "Asia/Tokyo", "fukuoka": "Asia/Tokyo", "札幌": "Asia/Tokyo", "sapporo": "Asia/Tokyo",
    "京都": "Asia/Tokyo", "kyoto": "Asia/Tokyo", "横浜": "Asia/Tokyo", "yokohama": "Asia/Tokyo",
}  # fmt: skip
OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$")


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-・]", "", folded)


@cache
def _names() -> dict[str, str]:
    """Every canonical zone by its id, its id's city and its CLDR city in Japanese and English."""
    names: dict[str, str] = {}
    aliases = get_global("zone_aliases")  # old names (Europe/Belfast, Asia/Calcutta): skipped
    for zone in sorted(zoneinfo.available_timezones()):
        if not zone.startswith(REGIONS) or zone in aliases:
            continue
        names.setdefault(_key(zone), zone)
        names.setdefault(_key(zone.rsplit("/", 1)[-1]), zone)
        for locale in ("ja", "en"):
            try:
                city = get_timezone_location(get_timezone(zone), locale=locale, return_city=True)
            except (LookupError, ValueError):
                continue
            names.setdefault(_key(city), zone)
    return names


def find_zone(text: str) -> str | None:
    """The IANA zone for what was typed, or None."""
    typed = unicodedata.normalize("NFKC", text).strip()
    if not typed:
        return None
    try:
        zoneinfo.ZoneInfo(typed)
        return typed
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    key = _key(typed)
    if key in ABBREVIATIONS:
        return ABBREVIATIONS[key]
    offset = OFFSET.match(typed.casefold())
    if offset:
        sign, hours, minutes = offset.group(1), int(offset.group(2)), offset.group(3)
        if (minutes in (None, "00")) and hours <= 14:
            if hours == 0:
                return "UTC"
            return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"  # IANA's sign is reversed
        return None
    return _names().get(key)
