"""A day in the past as people write it in a chat line, in either language: `today`, `昨日`,
`一昨日`, `先週金曜`, `last friday`, `11/28`, `11月28日`, `2026-11-28`, `2026年11月28日`.

`today` is the person's own calendar date (in their time zone: `Context.today`); a month and day
without a year is the one nearest to it. Pure: no clock is read here."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

RELATIVE = {
    "today": 0, "今日": 0, "きょう": 0, "本日": 0,
    "yesterday": -1, "昨日": -1, "きのう": -1, "さくじつ": -1,
    "一昨日": -2, "おととい": -2, "おとつい": -2,
    "tomorrow": 1, "明日": 1, "あした": 1, "あす": 1,
}  # fmt: skip
WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
    "月": 0, "火": 1, "水": 2, "木": 3, "金": 4, "土": 5, "日": 6,
}  # fmt: skip
PARTICLES = re.compile(r"(に|は|で|の|、|,)$")
ISO = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
MONTH_DAY = re.compile(r"(\d{1,2})[/月](\d{1,2})日?")
JA_WEEKDAY = re.compile(r"(先週|今週|先々週)?([月火水木金土日])曜日?")
EN_WEEKDAY = re.compile(r"(last |this )?([a-z]+)")
LOOKS_LIKE_A_DATE = re.compile(r"\d+[-/.月年]\d*")
# Two words that are one day: joined before a line is split into words.
PHRASES = re.compile(r"\b(last|this) (mon|tue|wed|thu|fri|sat|sun)[a-z]*\b", re.IGNORECASE)


class NotADay(ValueError):
    """Looks like a date but is none (`2/30`, `13/1`): a mistake, not part of a name."""


def join_phrases(text: str) -> str:
    """`last friday` → `last_friday`, so that splitting a line on spaces keeps it one word."""
    return PHRASES.sub(lambda m: m.group(0).replace(" ", "_"), text)


def parse_day(word: str, today: date, weekdays: bool = True) -> date | None:
    """The day `word` names, None when it names no day; NotADay when it is a broken date."""
    text = unicodedata.normalize("NFKC", word).strip().casefold().replace("_", " ")
    text = PARTICLES.sub("", text)
    if text in RELATIVE:
        return today + timedelta(days=RELATIVE[text])
    try:
        if m := ISO.fullmatch(text):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := MONTH_DAY.fullmatch(text):
            return _nearest(int(m[1]), int(m[2]), today)
    except ValueError:
        raise NotADay(word) from None
    if weekdays and (m := JA_WEEKDAY.fullmatch(text)):
        return _weekday(WEEKDAYS[m[2]], m[1] or "", today)
    # "Sun" and "Mon" are names too: alone, only a weekday's full name is one.
    m = EN_WEEKDAY.fullmatch(text) if weekdays else None
    if m and m[2] in WEEKDAYS and (m[1] or len(m[2]) > 5):
        return _weekday(WEEKDAYS[m[2]], (m[1] or "").strip(), today)
    if LOOKS_LIKE_A_DATE.fullmatch(text):
        raise NotADay(word)
    return None


def _nearest(month: int, day: int, today: date) -> date:
    """The `month`/`day` nearest today: 12/30 typed on 3 January is last year's, 11/28 typed on
    24 November is this year's (and so in the future, which the caller refuses)."""
    days = []
    for year in range(today.year - 4, today.year + 2):
        try:
            days.append(date(year, month, day))
        except ValueError:
            if (month, day) != (2, 29):
                raise
    return min(days, key=lambda d: abs(d - today))


def _weekday(weekday: int, which: str, today: date) -> date:
    """`先週金曜`: Friday of last week (weeks start on Monday); `今週金曜`: of this week;
    `金曜` or `last friday`: the latest Friday before today (or today, for a bare `金曜`)."""
    monday = today - timedelta(days=today.weekday())
    if which == "先週":
        return monday - timedelta(days=7) + timedelta(days=weekday)
    if which == "先々週":
        return monday - timedelta(days=14) + timedelta(days=weekday)
    if which in ("今週", "this"):
        return monday + timedelta(days=weekday)
    back = (today.weekday() - weekday) % 7
    if which == "last" and back == 0:
        back = 7
    return today - timedelta(days=back)
