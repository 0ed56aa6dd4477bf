"""Days as people write them in a `log` line, in the person's own calendar (bot/core/days.py)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.days import NotADay, join_phrases, parse_day

TUESDAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("word", "day"),
    [("今日", TUESDAY), ("today", TUESDAY), ("昨日", date(2026, 11, 23)),
     ("きのう", date(2026, 11, 23)), ("一昨日", date(2026, 11, 22)),
     ("おととい", date(2026, 11, 22)), ("先週金曜", date(2026, 11, 20)),
     ("先週月曜日", date(2026, 11, 16)), ("金曜", date(2026, 11, 20)), ("火曜", TUESDAY),
     ("last_tuesday", date(2026, 11, 17)), ("last_fri", date(2026, 11, 20)),
     ("friday", date(2026, 11, 20)), ("11/20", date(2026, 11, 20)),
     ("11月20日", date(2026, 11, 20)), ("１１／２０", date(2026, 11, 20)),
     ("11/28", date(2026, 11, 28)),  # this week's, the nearest: the log refuses it as future
     ("2026-11-02", date(2026, 11, 2)), ("2026/11/2", date(2026, 11, 2)),
     ("2026年11月2日", date(2026, 11, 2)), ("昨日に", date(2026, 11, 23)),
     ("2/29", date(2024, 2, 29))],
)  # fmt: skip
def test_days_people_write(word: str, day: date) -> None:
    assert parse_day(word, TUESDAY) == day


def test_month_and_day_near_new_year_is_last_years() -> None:
    assert parse_day("12/30", date(2027, 1, 3)) == date(2026, 12, 30)


@pytest.mark.parametrize("word", ["佐藤", "Sun", "Mon", "zoom", "たかはし", "今日子"])
def test_names_are_not_days(word: str) -> None:
    assert parse_day(word, TUESDAY) is None


@pytest.mark.parametrize("word", ["2/30", "13/1", "2026-02-30", "11月32日"])
def test_broken_dates_are_mistakes_not_names(word: str) -> None:
    with pytest.raises(NotADay):
        parse_day(word, TUESDAY)


def test_two_word_days_stay_together() -> None:
    assert join_phrases("log Sato last Friday zoom").split() == [
        "log",
        "Sato",
        "last_Friday",
        "zoom",
    ]
