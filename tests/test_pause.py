"""`pause until DATE`: everything proactive stops until that day and starts again by itself;
bad dates get one clear message and change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.clock import FixedClock
from bot.runtime.app import App
from handlers import privacy
from storage.models import Person
from tests.conftest import chat
from tests.support.members import person
from tests.test_admin import audit_log
from tests.test_engagement import company

TOKYO = ZoneInfo("Asia/Tokyo")


async def test_pause_until_a_date_resumes_by_itself_at_local_midnight(
    app: App, clock: FixedClock
) -> None:
    await company(app)  # the clock: Tuesday 24 November 2026, noon in Tokyo
    hanako = chat(app, "101", channel="telegram")
    answer = await hanako.say("/pause until 2027-01-12")
    assert "2027/01/12" in answer and "まで一時停止しました" in answer, answer
    assert (await person(app, "hanako@example.com")).paused

    clock.current = datetime(2027, 1, 11, 14, 59, tzinfo=UTC)  # 23:59 on the 11th in Tokyo
    assert await privacy.resume_due(app) == 0
    assert (await person(app, "hanako@example.com")).paused
    clock.current += timedelta(minutes=1)  # midnight of the 12th in Tokyo
    assert await privacy.resume_due(app) == 1
    resumed = await person(app, "hanako@example.com")
    assert not resumed.paused and resumed.paused_until is None
    assert [e.detail.get("reason") for e in await audit_log(app, "resume")] == ["until"]


async def test_a_month_and_day_mean_the_next_one_and_pause_alone_still_toggles(
    app: App,
) -> None:
    await company(app)
    emma = chat(app, "102", channel="telegram")
    assert "Paused until" in await emma.say("/pause until 1/12")
    until = (await person(app, "emma@example.com")).paused_until
    assert until is not None and until.astimezone(ZoneInfo("Europe/London")).date().isoformat() == (
        "2027-01-12"
    )  # London's midnight: the pause ends in her own zone
    assert "Messages are on again" in await emma.say("/pause")
    emma_now = await person(app, "emma@example.com")
    assert not emma_now.paused and emma_now.paused_until is None


async def test_bad_dates_get_one_message_and_change_nothing(app: App) -> None:
    await company(app)
    hanako = chat(app, "101", channel="telegram")
    emma = chat(app, "102", channel="telegram")
    assert "日付として読み取れませんでした" in await hanako.say("/pause until そのうち")
    assert "今日以前です" in await hanako.say("/pause until 2026-11-24")
    assert "最長 366 日" in await hanako.say("/pause until 2028-12-01")
    assert "couldn't read 13/45 as a date" in await emma.say("/pause until 13/45")
    async with app.db.transaction() as session:
        paused = await session.scalar(
            select(Person.paused).where(Person.email == "hanako@example.com")
        )
    assert paused is False
