"""Working days: check-ins never land on a weekend, a Japanese public holiday (substitute and
citizens' holidays included) or a company closure, and what was due then moves, not vanishes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest
from sqlalchemy import select

from bot.cli import main
from bot.core.clock import FixedClock
from bot.core.workdays import WorkCalendar, country_of
from bot.runtime.app import App
from handlers import checkins
from storage.models import Person
from storage.schedule import planned
from tests.conftest import chat
from tests.support.members import outbox, update_person
from tests.test_engagement import company

TOKYO, LONDON = ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/London")
JAPAN = WorkCalendar("JP")


def test_countries_come_from_time_zones() -> None:
    assert (country_of("Asia/Tokyo"), country_of("Europe/London")) == ("JP", "GB")
    assert country_of("UTC") is None and country_of("Etc/GMT-9") is None


def test_golden_week_and_its_substitute_holiday_are_not_working_days() -> None:
    # 2026: 3 May (Sunday) Constitution Day, 4 and 5 May, then 6 May the substitute holiday.
    assert [JAPAN.is_working(date(2026, 5, d)) for d in range(1, 8)] == [
        True, False, False, False, False, False, True  # Fri 1st works; the 2nd is a Saturday
    ]  # fmt: skip
    assert JAPAN.next_working(date(2026, 5, 2)) == date(2026, 5, 7)
    assert not JAPAN.is_working(date(2026, 9, 22))  # a citizens' holiday between two holidays
    assert WorkCalendar("GB").is_working(date(2026, 5, 4)) is False  # the May bank holiday


@pytest.mark.parametrize("cadence", ["weekly", "biweekly", "monthly"])
def test_a_year_of_checkins_in_tokyo_never_lands_on_a_day_off(cadence: str) -> None:
    closures = ((date(2026, 12, 29), date(2027, 1, 3)), (date(2027, 8, 13), date(2027, 8, 16)))
    days = WorkCalendar("JP", closures)
    start = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    count = {"weekly": 52, "biweekly": 26, "monthly": 12}[cadence]
    times = planned(cadence, 10 * 60, TOKYO, start, count, days)
    assert len(times) == count and times[-1] - times[0] > timedelta(days=300)
    japan = holidays.country_holidays("JP", years=[2026, 2027, 2028])
    for at in times:
        local = at.astimezone(TOKYO)
        assert (local.hour, local.minute) == (10, 0), local
        assert local.weekday() < 5 and local.date() not in japan, local
        assert not any(a <= local.date() <= b for a, b in closures), local
    assert all(later > earlier for earlier, later in pairwise(times))


def test_london_keeps_ten_oclock_across_dst_and_skips_good_friday() -> None:
    """Weekly on Fridays from 19 March 2027: Good Friday (the 26th) moves to Monday the 29th,
    after the clocks went forward on the 28th, still at 10:00, and the week goes on from there."""
    start = datetime(2027, 3, 19, 9, 0, tzinfo=UTC)  # 09:00 GMT, before the 10:00 check-in
    times = planned("weekly", 10 * 60, LONDON, start, 3, WorkCalendar("GB"))
    local = [t.astimezone(LONDON) for t in times]
    assert [d.date() for d in local] == [date(2027, 3, 19), date(2027, 3, 29), date(2027, 4, 5)]
    assert all((d.hour, d.minute) == (10, 0) for d in local)
    assert times[1] == datetime(2027, 3, 29, 9, 0, tzinfo=UTC)  # 10:00 BST


async def test_a_checkin_due_on_a_holiday_moves_to_the_next_working_day(
    app: App, clock: FixedClock
) -> None:
    """Hanako's check-in falls due on 5 May 2027, Children's Day: nothing is sent, it moves to
    Thursday the 6th at the same 09:00, and then it goes."""
    await company(app)
    holiday_9am = datetime(2027, 5, 5, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    await update_person(app, "hanako@example.com", next_checkin_at=holiday_9am)
    await update_person(app, "emma@example.com", next_checkin_at=holiday_9am + timedelta(days=400))
    clock.current = holiday_9am + timedelta(minutes=1)
    await checkins.tick_checkins(app)
    assert await outbox(app, "checkin") == []
    async with app.db.transaction() as session:
        moved = await session.scalar(
            select(Person.next_checkin_at).where(Person.email == "hanako@example.com")
        )
    assert moved is not None and moved.astimezone(TOKYO) == datetime(2027, 5, 6, 9, 0, tzinfo=TOKYO)
    clock.current = moved + timedelta(minutes=1)
    await checkins.tick_checkins(app)
    assert [email for email, _, _ in await outbox(app, "checkin")] == ["hanako@example.com"]


def test_the_command_line_says_when_the_bot_will_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    assert main(["demo"]) == 0
    capsys.readouterr()
    assert main(["schedule", "hanako@example.com", "--count", "12"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 12
    japan = holidays.country_holidays("JP", years=range(2026, 2030))
    for line in lines:
        day, hour, zone = line.split()
        local = datetime.fromisoformat(f"{day}T{hour}").replace(tzinfo=ZoneInfo(zone))
        assert zone == "Asia/Tokyo" and local.weekday() < 5 and local.date() not in japan, line
    assert main(["schedule", "taro@example.com"]) == 0
    assert "no check-ins planned (check-ins are for alumni)" in capsys.readouterr().out
    assert main(["schedule", "nobody@example.com"]) == 1
    assert main(["schedule", "hanako@example.com", "--count", "0"]) == 2


async def test_settings_show_the_next_checkins(app: App, clock: FixedClock) -> None:
    await company(app)
    friday_evening = datetime(2027, 4, 30, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo, before GW
    clock.current = friday_evening
    await update_person(app, "hanako@example.com", checkin_cadence="weekly",
                        next_checkin_at=datetime(2027, 5, 3, 0, 0, tzinfo=UTC))  # fmt: skip
    hanako = chat(app, "101", channel="telegram")
    # 3–5 May are holidays: the one due on the 3rd comes on Thursday the 6th, then weekly.
    assert "次回以降のチェックイン: 2027/05/06 09:00, 2027/05/13 09:00, 2027/05/20 09:00" in (
        await hanako.say("/settings")
    )
    await hanako.say("/pause")
    assert "次回以降のチェックイン: 一時停止中" in await hanako.say("/settings")


async def test_a_person_who_chose_another_country_keeps_its_holidays(
    app: App, clock: FixedClock
) -> None:
    """Hanako lives in Tokyo but chose British holidays: Children's Day is a working day."""
    await company(app)
    holiday_9am = datetime(2027, 5, 5, 0, 0, tzinfo=UTC)
    await update_person(app, "hanako@example.com", next_checkin_at=holiday_9am, country="GB")
    await update_person(app, "emma@example.com", next_checkin_at=holiday_9am + timedelta(days=400))
    clock.current = holiday_9am + timedelta(minutes=1)
    await checkins.tick_checkins(app)
    assert [email for email, _, _ in await outbox(app, "checkin")] == ["hanako@example.com"]
