"""Due times in people's own time zones: DST, the date line, UTC+14 and UTC−11."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from storage.schedule import add_months, at_local, next_due, period_of, spread_minute

LONDON, TOKYO = ZoneInfo("Europe/London"), ZoneInfo("Asia/Tokyo")
KIRITIMATI, PAGO = ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago")  # +14, −11


def test_monthly_checkins_keep_local_time_across_dst_in_london() -> None:
    before = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # GMT
    due = next_due("monthly", 10 * 60, LONDON, before, first=False)
    assert due == datetime(2026, 4, 10, 9, 0, tzinfo=UTC)  # 10:00 BST
    assert due is not None and due.astimezone(LONDON).hour == 10


def test_a_time_in_the_spring_gap_moves_after_it_and_the_autumn_hour_is_taken_once() -> None:
    gap = at_local(date(2026, 3, 29), 60 + 30, LONDON)  # 01:30 does not exist that night
    assert gap == datetime(2026, 3, 29, 1, 30, tzinfo=UTC) and gap.astimezone(LONDON).hour == 2
    twice = at_local(date(2026, 10, 25), 60 + 30, LONDON)  # 01:30 happens twice
    assert twice == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "now", "expected_local_day"),
    [
        (TOKYO, datetime(2026, 11, 24, 16, 0, tzinfo=UTC), date(2026, 11, 25)),  # 01:00 on the 25th
        (KIRITIMATI, datetime(2026, 11, 24, 11, 0, tzinfo=UTC), date(2026, 11, 25)),
        (PAGO, datetime(2026, 11, 24, 11, 0, tzinfo=UTC), date(2026, 11, 24)),  # 00:00 on the 24th
    ],
)
def test_the_first_checkin_is_the_next_preferred_local_time(
    zone: ZoneInfo, now: datetime, expected_local_day: date
) -> None:
    due = next_due("weekly", 9 * 60, zone, now, first=True)
    assert due is not None and due > now
    local = due.astimezone(zone)
    assert (local.date(), local.time()) == (expected_local_day, time(9, 0))


def test_a_late_worker_sends_one_checkin_not_one_per_missed_period() -> None:
    missed_for_months = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    due = next_due("weekly", 10 * 60, TOKYO, missed_for_months, first=False)
    assert due == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # one week from today, local


def test_off_means_never() -> None:
    assert next_due("off", 600, TOKYO, datetime(2026, 1, 1, tzinfo=UTC), first=True) is None


def test_month_ends_and_years() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


def test_ten_thousand_people_are_spread_over_the_window() -> None:
    minutes = [spread_minute(pid, time(10), time(19)) for pid in range(1, 10_001)]
    assert min(minutes) >= 600 and max(minutes) < 19 * 60
    busiest = Counter(minutes).most_common(1)[0][1]
    assert busiest <= 40  # 540 minutes: about 19 a minute on average


def test_survey_periods_follow_the_local_calendar() -> None:
    new_year_in_tokyo = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)  # July 1st, 01:00 in Tokyo
    assert period_of(new_year_in_tokyo, TOKYO) == "2026H2"
    assert period_of(new_year_in_tokyo, PAGO) == "2026H1"
