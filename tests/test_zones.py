"""Time zones as people type them, in a form: a city in Japanese or English, a common
abbreviation, a UTC offset; what is not a zone is asked again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.zones import find_zone
from bot.runtime.app import App
from storage.models import Person
from tests.conftest import chat
from tests.support.people import load_company
from tests.test_onboarding import join_directly


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Asia/Tokyo", "Asia/Tokyo"), ("tokyo", "Asia/Tokyo"), ("東京", "Asia/Tokyo"),
        ("JST", "Asia/Tokyo"), ("ｊｓｔ", "Asia/Tokyo"), ("大阪", "Asia/Tokyo"),
        ("+09:00", "Etc/GMT-9"), ("UTC+9", "Etc/GMT-9"), ("GMT-5", "Etc/GMT+5"),
        ("London", "Europe/London"), ("ロンドン", "Europe/London"),  # not the old Europe/Belfast
        ("new york", "America/New_York"), ("ニューヨーク", "America/New_York"),
        ("Kolkata", "Asia/Kolkata"), ("ソウル", "Asia/Seoul"), ("utc", "UTC"),
        ("Mars/Olympus", None), ("+05:45x", None), ("", None), ("CST", None),  # CST: which one?
    ],
)  # fmt: skip
def test_a_zone_as_people_type_it(typed: str, zone: str | None) -> None:
    assert find_zone(typed) == zone


async def test_the_settings_form_takes_a_city_in_japanese(app: App) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    await emma.say("/settings")
    await emma.press("Edit settings")
    await emma.press("English")
    assert "Try Asia/Tokyo, Tokyo, JST or +09:00" in await emma.say("Atlantis")
    await emma.say("東京")
    assert "(3/9)" in emma.text
    for answer in ("-", "-"):
        await emma.say(answer)
    await emma.press("weekly")
    await emma.say("-")
    async with app.db.transaction() as session:
        person = (
            await session.scalars(select(Person).where(Person.email == "emma@example.com"))
        ).one()
    assert person.timezone == "Asia/Tokyo"
