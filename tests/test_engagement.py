"""Check-ins, nudges, the interaction log and the pulse survey, as people meet them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.core.clock import FixedClock
from bot.core.settings import Settings
from bot.runtime.app import App
from handlers import checkins, surveys
from storage import importer
from storage.models import Interaction, Person, SurveyResponse
from tests.conftest import _truncate, chat
from tests.support.members import member, outbox, person, update_person
from tests.support.people import load_company

NOON_TOKYO = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


async def company(app: App) -> None:
    await load_company(app)
    await member(app, "hanako@example.com", "101", locale="ja")
    await member(app, "emma@example.com", "102", locale="en", tz="Europe/London")
    await member(app, "taro@example.com", "103", locale="ja")
    await update_person(app, "hanako@example.com", checkin_minute=9 * 60)  # 09:00 Tokyo
    await update_person(app, "emma@example.com", checkin_minute=9 * 60)  # 09:00 London


async def test_checkins_go_to_alumni_once_at_their_local_time(app: App, clock: FixedClock) -> None:
    await company(app)
    assert await checkins.tick_checkins(app) == 0  # newcomers get their first time
    hanako = await person(app, "hanako@example.com")
    assert hanako.next_checkin_at == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    emma = await person(app, "emma@example.com")
    assert emma.next_checkin_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 09:00 in London
    assert (await person(app, "taro@example.com")).next_checkin_at is None  # employees: nudges

    clock.current = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert await checkins.tick_checkins(app) == 2
    assert await checkins.tick_checkins(app) == 0
    queued = await outbox(app, "checkin")
    texts = {email: reply.text for email, reply, _ in queued}
    assert (
        "お元気ですか" in texts["hanako@example.com"] and "How are you" in texts["emma@example.com"]
    )
    assert (await person(app, "hanako@example.com")).next_checkin_at == datetime(
        2026, 12, 25, 0, 0, tzinfo=UTC
    )


async def test_a_worker_down_for_months_sends_one_checkin(app: App, clock: FixedClock) -> None:
    await company(app)
    await update_person(app, "hanako@example.com", next_checkin_at=NOON_TOKYO - timedelta(days=95))
    assert await checkins.tick_checkins(app) >= 1
    clock.advance(minutes=5)
    await checkins.tick_checkins(app)
    assert [e for e, _, _ in await outbox(app, "checkin")].count("hanako@example.com") == 1


async def test_paused_and_opted_out_people_are_skipped_and_rescheduled(app: App) -> None:
    await company(app)
    due = NOON_TOKYO - timedelta(minutes=1)
    await update_person(app, "hanako@example.com", next_checkin_at=due, paused=True)
    await update_person(app, "emma@example.com", next_checkin_at=due, opt_outs=["checkins"])
    assert await checkins.tick_checkins(app) == 0
    assert (await person(app, "hanako@example.com")).next_checkin_at > NOON_TOKYO  # type: ignore[operator]


async def test_one_tick_counts_unanswered_only_for_those_asked(app: App) -> None:
    """The tick writes each claimed person once (next time and unanswered count together):
    paused and opted-out people move on without being counted, the one asked counts one, and
    a second tick sends nobody anything twice."""
    await company(app)
    due = NOON_TOKYO - timedelta(minutes=1)
    await update_person(app, "hanako@example.com", next_checkin_at=due, unanswered_checkins=2)
    await update_person(app, "emma@example.com", next_checkin_at=due, paused=True,
                        unanswered_checkins=2)  # fmt: skip
    assert await checkins.tick_checkins(app) == 1
    assert await checkins.tick_checkins(app) == 0
    hanako = await person(app, "hanako@example.com")
    emma = await person(app, "emma@example.com")
    assert (hanako.unanswered_checkins, emma.unanswered_checkins) == (3, 2)
    assert hanako.next_checkin_at > NOON_TOKYO and emma.next_checkin_at > NOON_TOKYO  # type: ignore[operator]
    assert [e for e, _, _ in await outbox(app, "checkin")] == ["hanako@example.com"]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/London"])
async def test_first_checkin_is_at_ten_local_across_the_date_line(app: App, zone: str) -> None:
    await company(app)
    await update_person(app, "emma@example.com", timezone=zone, checkin_minute=600)
    await checkins.tick_checkins(app)
    due = (await person(app, "emma@example.com")).next_checkin_at
    assert due is not None and due > NOON_TOKYO and due - NOON_TOKYO <= timedelta(days=1)
    from zoneinfo import ZoneInfo

    assert (due.astimezone(ZoneInfo(zone)).hour, due.astimezone(ZoneInfo(zone)).minute) == (10, 0)


async def test_not_yet_suggests_the_former_manager_and_hello_reaches_him(app: App) -> None:
    await company(app)
    hanako = chat(app, "101", channel="telegram")
    await hanako.press_button(
        checkins.checkin_reply(app.catalogs.translator("ja"), "花子").buttons[1][0]
    )
    assert (
        "佐藤 太郎" in hanako.text and "元上司" in hanako.text and "最後の交流: なし" in hanako.text
    )
    [say_hello] = [b for b in hanako.buttons if b.action == "checkin.hello"]
    assert "あいさつを送りました" in await hanako.press_button(say_hello)
    assert "すでに" in await hanako.press_button(say_hello)  # a double tap: once a day
    [(email, intro, _)] = await outbox(app, "intro")
    assert email == "taro@example.com" and "山田 花子 さん（元部下）" in intro.text

    taro = chat(app, "103", channel="telegram")
    taro.transcript.append(("(delivered)", [intro]))
    assert "記録しました" in await taro.press("話したことを記録")
    await hanako.say("/checkin")
    assert "元上司: 対面 0 回、オンライン 1 回" in hanako.text


async def test_people_who_still_work_together_are_not_called_former(app: App) -> None:
    """Taro manages HR's 鈴木 today: to both he is 上司 and she 部下, never 元上司 / 元部下; to
    Hanako, who left, Taro stays her 元上司."""
    await company(app)
    async with app.db.transaction() as session:
        relation = b"email,other_email,kind\nhr@example.com,taro@example.com,manager\n"
        await importer.import_relations(session, relation, app.clock.now())
    hr = await member(app, "hr@example.com", "104", locale="ja")
    await hr.say("/checkin")
    assert "上司: 対面 0 回" in hr.text and "元上司" not in hr.text, hr.text
    assert "佐藤 太郎 (上司;" in hr.text, hr.text
    [say_hello] = [b for b in hr.buttons if b.action == "checkin.hello"]
    await hr.press_button(say_hello)
    [(email, intro, _)] = await outbox(app, "intro")
    assert email == "taro@example.com" and "鈴木 人事 さん（部下）" in intro.text, intro.text

    hanako = chat(app, "101", channel="telegram")
    await hanako.say("/checkin")
    assert "元上司: 対面 0 回" in hanako.text and "佐藤 太郎 (元上司;" in hanako.text


async def test_met_in_person_lists_relations_and_logs_once(app: App) -> None:
    await company(app)
    emma = chat(app, "102", channel="telegram")
    await emma.press_button(
        checkins.checkin_reply(app.catalogs.translator("en"), "Emma").buttons[0][0]
    )
    assert "With whom" in emma.text
    assert "Logged your contact with 山田 花子" in await emma.press("山田 花子")
    await emma.press_button(
        checkins.checkin_reply(app.catalogs.translator("en"), "Emma").buttons[0][0]
    )
    assert "already logged" in await emma.press("山田 花子")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/log 佐藤 online yesterday", "Logged: 佐藤 太郎, Online"),
        ("/log さとう たろう 対面 -- lunch", "Logged: 佐藤 太郎, In person"),
        ("/log Sato", "How did you meet 佐藤 太郎"),  # romaji of the reading
        ("/log 鈴木 人事 online", "Logged: 鈴木 人事, Online"),  # not a relation: everyone
        ("/log Emma Brown online", "That's you"),
        ("/log 佐藤 online 2030-01-01", "in the future"),
        ("/log 佐藤 online 2006-11-24", "last 365 days"),
        ("/log Nobody Atall", "couldn't find"),
        ("/log", "(1/4) With whom?"),
    ],
)
async def test_log_understands_names_ways_and_dates(app: App, text: str, expected: str) -> None:
    await company(app)
    emma = chat(app, "102", channel="telegram")
    assert expected in await emma.say(text)


async def test_log_asks_how_and_which_one(app: App) -> None:
    await company(app)
    async with app.db.transaction() as session:
        for name, kana in (("髙橋 一郎", "たかはし いちろう"), ("高橋 次郎", "たかはし じろう")):
            session.add(Person(name=name, name_kana=kana, email=f"{kana[-3:]}@example.com"))
    emma = chat(app, "102", channel="telegram")
    assert "How did you meet 佐藤 太郎" in await emma.say("/log 佐藤")
    assert "Logged" in await emma.press("In person")
    assert "Several people match" in await emma.say("/log 高橋 online")  # 髙 and 高 both match
    assert {b.label for b in emma.buttons} == {"髙橋 一郎", "高橋 次郎"}
    assert "Logged: 髙橋 一郎" in await emma.press("髙橋 一郎")
    assert "Logged: 高橋 次郎" in await emma.say("/log たかはし じろう online")


async def test_log_form_keeps_today_and_stores_the_contact_once(app: App) -> None:
    await company(app)
    emma = chat(app, "102", channel="telegram")
    await emma.say("/log")
    await emma.say("山田 花子")
    await emma.press("Online")
    await emma.say("-")  # today
    assert "Logged: 山田 花子" in await emma.say("met at the station")
    hanako = chat(app, "101", channel="telegram")
    assert "すでに記録" in await hanako.say("/log Emma オンライン 今日")
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Interaction)) == 1


async def test_nobody_can_log_a_contact_with_someone_who_left_the_network(app: App) -> None:
    await company(app)
    taro = chat(app, "103", channel="telegram")
    await taro.say("/forgetme")
    await taro.press("データを削除する")
    emma = chat(app, "102", channel="telegram")
    assert "couldn't find" in await emma.say("/log 佐藤 太郎 online")


async def test_the_pulse_survey_and_a_second_answer_in_the_period(app: App) -> None:
    await company(app)
    emma = chat(app, "102", channel="telegram")
    assert "(1/3)" in await emma.say("/survey")
    await emma.press("4")
    await emma.press("5")
    assert "alumni index this period: 4.0" in await emma.press("3")
    assert "already answered" in await emma.say("/survey")
    await emma.press("2")
    await emma.press("2")
    [last] = [b for b in emma.buttons if b.payload == "2:2"]
    await emma.press_button(last)
    assert "2.0" in await emma.press_button(last)  # a double tap changes nothing
    async with app.db.transaction() as session:
        rows = (await session.scalars(select(SurveyResponse))).all()
    assert [(r.period, r.rejoin, r.keep_in_touch, r.recommend) for r in rows] == [
        ("2026H2", 2, 2, 2)
    ]


async def test_surveys_are_scheduled_two_weeks_after_joining(app: App, clock: FixedClock) -> None:
    await company(app)
    assert await surveys.tick_surveys(app) == 0
    clock.advance(days=15)
    assert await surveys.tick_surveys(app) == 2
    assert await surveys.tick_surveys(app) == 0
    texts = [reply.text for _, reply, _ in await outbox(app, "survey")]
    assert any("(1/3)" in t and "また会社" in t for t in texts)


async def test_employees_hear_about_former_reports_they_lost_touch_with(
    app: App, clock: FixedClock
) -> None:
    await company(app)
    assert await checkins.tick_nudges(app) == 0
    clock.advance(days=1)
    assert await checkins.tick_nudges(app) == 1
    [(email, nudge, _)] = await outbox(app, "nudge")
    assert email == "taro@example.com" and "山田 花子 (元部下" in nudge.text.replace("（", "(")
    hanako = chat(app, "101", channel="telegram")
    await hanako.say("/log 佐藤 対面 今日")
    clock.advance(days=31)
    assert await checkins.tick_nudges(app) == 0  # in touch again: nothing to nudge about


async def test_two_workers_claim_checkins_without_doubles_on_postgresql(
    pg_url: str, clock: FixedClock
) -> None:
    await _truncate(pg_url)
    apps = [App.build(Settings(database_url=pg_url), clock) for _ in range(2)]
    try:
        await company(apps[0])
        async with apps[0].db.transaction() as session:
            await session.execute(
                update(Person).values(next_checkin_at=NOON_TOKYO - timedelta(minutes=1))
            )
        sent = await asyncio.gather(*(checkins.tick_checkins(a) for a in apps))
        assert sum(sent) == 2
        assert len(await outbox(apps[0], "checkin")) == 2
    finally:
        for a in apps:
            await a.close()


async def test_opting_out_after_a_checkin_was_queued_stops_it(app: App, clock: FixedClock) -> None:
    from bot.runtime.delivery import Worker
    from tests.fakes.fake_channel import FakeChannel, VirtualSleep

    await company(app)
    await checkins.tick_checkins(app)
    clock.current = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo: hanako is due
    assert await checkins.tick_checkins(app) >= 1
    hanako = chat(app, "101", channel="telegram")
    await hanako.say("/settings")
    await hanako.press("チェックインをオフ")
    fake = FakeChannel(clock)
    await Worker(app, {"telegram": fake}, sleep=VirtualSleep(clock)).run(drain=True)
    assert [s for s in fake.sent if s.to.user_id == "101"] == []
    [(_, _, row)] = [m for m in await outbox(app, "checkin") if m[0] == "hanako@example.com"]
    assert row.state == "dead" and "opted out of checkins" in (row.last_error or "")
