"""Invite → join → consent → language → time zone → profile → help, as each role."""

from __future__ import annotations

import re

import pytest

from bot.runtime.app import App
from tests.conftest import chat
from tests.support.people import load_company


async def invite_code(app: App, email: str, as_user: str = "hr@example.com") -> str:
    hr = chat(app, as_user)
    await join_directly(app, as_user)
    answer = await hr.say(f"/invite {email}")
    match = re.search(r"\b([A-Z2-9]{8})\b", answer)
    assert match, answer
    return match.group(1)


async def join_directly(app: App, email: str, locale: str = "en") -> None:
    """An HR/admin account joins through a shared code created from the command line path."""
    from storage import invites, people

    async with app.db.transaction() as session:
        person = await people.person_by_email(session, email)
        assert person is not None
        if person.consent_at is not None:
            return
        code = await invites.create(
            session, person=person, created_by=None, now=app.clock.now(), days=1
        )
    me = chat(app, email)
    await me.say(f"join {code.code}")
    await me.press_action("onboarding.consent", "yes")
    await me.press_action("onboarding.locale", locale)
    await me.press_action("onboarding.tz", "Asia/Tokyo")


async def test_alumna_joins_and_edits_profile_in_japanese(app: App) -> None:
    await load_company(app)
    code = await invite_code(app, "hanako@example.com")
    hanako = chat(app, "tg-hanako", channel="telegram", locale_hint="ja")
    assert "招待コード" in await hanako.say("help")
    answer = await hanako.say(f"/join {code}")
    assert "山田 花子" in answer and "同意" in answer
    await hanako.press("同意する")
    assert "言語" in hanako.text
    await hanako.press("日本語")
    await hanako.press("Asia/Tokyo")
    assert "設定が完了しました" in hanako.text and "/profile" in hanako.text
    assert "/invite" not in hanako.text  # alumni do not see HR commands

    assert "営業" in await hanako.say("/profile")
    await hanako.press("プロフィールを編集")
    assert "スキル" in hanako.text
    await hanako.say("営業; 交渉；マーケティング, Python")
    await hanako.say("マネージャー")
    await hanako.say("大阪")
    await hanako.press("関心あり")
    assert "保存しました" in hanako.text
    assert "Python" in hanako.text and "大阪" in hanako.text and "関心あり" in hanako.text


async def test_employee_switches_to_english_and_sees_employee_help(app: App) -> None:
    """HR imported Taro as Japanese-speaking: his English Slack does not switch onboarding to
    English halfway; he is asked in Japanese, with Japanese offered first, and switches."""
    await load_company(app)
    code = await invite_code(app, "taro@example.com")
    taro = chat(app, "U-TARO", channel="slack", workspace="T1", locale_hint="en-US")
    await taro.say(f"join {code}")
    assert "同意しますか？" in taro.text
    await taro.press("同意する")
    assert "使う言語は日本語です" in taro.text
    assert [b.label for b in taro.buttons] == ["日本語 のまま", "English"]
    await taro.press("English")
    assert "Your time zone is Asia/Tokyo, as HR has it" in taro.text
    assert taro.buttons[0].label == "Keep Asia/Tokyo"
    await taro.press("Europe/London")
    assert "All set (time zone Europe/London)" in taro.text
    assert "/alumni invite" not in taro.text and "/alumni profile" in taro.text  # Slack's spelling


async def test_a_command_typed_before_agreeing_runs_once_onboarding_ends(app: App) -> None:
    """Emma (imported: English, London) writes from a Japanese phone and asks for her profile
    before agreeing: onboarding stays in English, offers what HR imported, then shows it."""
    await load_company(app)
    code = await invite_code(app, "emma@example.com")
    emma = chat(app, "tg-emma", channel="telegram", locale_hint="ja")
    await emma.say(f"/start {code}")
    assert "Do you agree?" in emma.text  # her imported language, not her phone's
    assert "Do you agree?" in await emma.say("/profile")
    await emma.press("I agree")
    assert "Your language is English" in emma.text
    assert [b.label for b in emma.buttons] == ["Keep English", "日本語"]
    await emma.press("Keep English")
    assert "Your time zone is Europe/London, as HR has it" in emma.text
    await emma.press("Keep Europe/London")
    assert "All set (time zone Europe/London)" in emma.text
    assert "Your profile" in emma.text and "Emma Brown" in emma.text  # what she asked for
    assert "Here is what you can do" not in emma.text


@pytest.mark.parametrize("email", ["hr@example.com", "admin@example.com"])
async def test_hr_and_admin_see_invite_in_help(app: App, email: str) -> None:
    await load_company(app)
    await join_directly(app, email)
    me = chat(app, email)
    assert "/invite" in await me.say("help")
