"""The interaction log never records the wrong person (issue 16), as people meet it: dates, ways
and notes are not names; a weak match asks; the names that failed before are found; namesakes
are told apart by department and years."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bot.core.clock import FixedClock
from bot.runtime.app import App
from storage.models import Interaction, Person
from tests.conftest import chat
from tests.support.members import member
from tests.support.people import load_company

SATURDAY_TOKYO = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)  # Sunday 29 Nov, 07:00 in Tokyo


async def company(app: App, *others: tuple[str, str | None]) -> None:
    """The test company (hanako's manager is 佐藤 太郎), with more people by (name, reading)."""
    await load_company(app)
    await member(app, "hanako@example.com", "101", locale="ja")
    await member(app, "emma@example.com", "102", locale="en", tz="Europe/London")
    async with app.db.transaction() as session:
        for n, (name, kana) in enumerate(others):
            session.add(Person(name=name, name_kana=kana, email=f"other{n}@example.com"))


async def logged(app: App) -> list[tuple[str, str, date, str | None]]:
    """(the other's name, kind, day, note) of every stored contact."""
    async with app.db.transaction() as session:
        rows = (await session.scalars(select(Interaction).order_by(Interaction.id))).all()
        out = []
        for row in rows:
            a, b = await session.get(Person, row.person_a), await session.get(Person, row.person_b)
            assert a is not None and b is not None
            other = b if a.email in ("hanako@example.com", "emma@example.com") else a
            out.append((other.name, row.kind, row.occurred_on, row.note))
        return out


SATOS = [("佐藤 花江", "さとう はなえ"), ("佐藤 健", "さとう けん"), ("佐藤 美咲", None),
         ("佐藤 一郎", "さとう いちろう")]  # fmt: skip


async def test_a_date_is_not_part_of_the_name_and_the_manager_wins(
    app: App, clock: FixedClock
) -> None:
    clock.current = SATURDAY_TOKYO
    await company(app, *SATOS)
    hanako = chat(app, "101", channel="telegram")
    assert "記録しました" in await hanako.say("/log 佐藤 zoom 11/28")
    assert await logged(app) == [("佐藤 太郎", "online", date(2026, 11, 28), None)]


@pytest.mark.parametrize(
    ("when", "day"),
    [
        ("11/28", date(2026, 11, 28)),
        ("11月28日", date(2026, 11, 28)),
        ("１１月２７日", date(2026, 11, 27)),  # full width
        ("今日", date(2026, 11, 29)),  # Sunday in Tokyo, though still Saturday in UTC
        ("昨日", date(2026, 11, 28)),
        ("一昨日", date(2026, 11, 27)),
        ("先週金曜", date(2026, 11, 20)),  # the Friday of the week before this one
        ("金曜日", date(2026, 11, 27)),
        ("2026-11-02", date(2026, 11, 2)),
    ],
)
async def test_dates_in_the_persons_own_zone(
    app: App, clock: FixedClock, when: str, day: date
) -> None:
    clock.current = SATURDAY_TOKYO
    await company(app)
    hanako = chat(app, "101", channel="telegram")
    assert "記録しました" in await hanako.say(f"/log 佐藤 {when} オンライン")
    assert await logged(app) == [("佐藤 太郎", "online", day, None)]


async def test_today_is_the_callers_own_day(app: App, clock: FixedClock) -> None:
    clock.current = SATURDAY_TOKYO  # London: still Saturday the 28th
    await company(app)
    emma = chat(app, "102", channel="telegram")
    assert "Logged" in await emma.say("/log 山田 花子 online today")
    assert "Logged" in await emma.say("/log Yamada Hanako last friday 対面")
    assert [r[2] for r in await logged(app)] == [date(2026, 11, 28), date(2026, 11, 27)]


async def test_a_broken_date_is_pointed_out_and_nothing_is_logged(app: App) -> None:
    await company(app)
    hanako = chat(app, "101", channel="telegram")
    assert "日付として読めません" in await hanako.say("/log 佐藤 2/30 オンライン")
    emma = chat(app, "102", channel="telegram")
    assert '"13/45" is not a date' in await emma.say("/log Yamada 13/45 online")
    assert await logged(app) == []


async def test_the_note_survives_how_and_which_one(app: App) -> None:
    await company(app, ("高橋 一郎", "たかはし いちろう"), ("髙橋 次郎", "たかはし じろう"))
    hanako = chat(app, "101", channel="telegram")
    assert "どのように" in await hanako.say("/log 佐藤 昨日 -- 駅前でランチ")
    assert "記録しました" in await hanako.press("対面")
    emma = chat(app, "102", channel="telegram")
    assert "Several people match" in await emma.say("/log 高橋 -- coffee, at: noon")
    await emma.press("高橋 一郎")
    assert "How did you meet" in emma.text
    await emma.press("Online")
    notes = [(name, note) for name, _, _, note in await logged(app)]
    assert notes == [("佐藤 太郎", "駅前でランチ"), ("高橋 一郎", "coffee, at: noon")]


async def test_short_romaji_never_logs_someone_else(app: App) -> None:
    await company(app, ("Mia Davis", None), ("前川 健", "まえかわ けん"))
    emma = chat(app, "102", channel="telegram")
    reply = await emma.say("/log maeda online")
    assert "Logged" not in reply
    assert all("Mia Davis" not in b.label for b in emma.buttons)
    assert await logged(app) == []


async def test_romaji_that_is_someones_name_finds_them(app: App) -> None:
    await company(
        app, ("Mia Davis", None), ("前田 健", "まえだ けん"), ("大野 智", "おおの さとし")
    )
    emma = chat(app, "102", channel="telegram")
    assert "Logged: 前田 健" in await emma.say("/log maeda online")
    assert "Logged: 大野 智" in await emma.say("/log Ohno Satoshi online")
    assert "Logged: 佐藤 太郎" in await emma.say("/log Satō online")
    assert "Logged: 山田 花子" in await emma.say("/log Hanako YAMADA online")


async def test_a_weak_match_asks_even_when_it_is_the_only_one(app: App) -> None:
    await company(app)
    emma = chat(app, "102", channel="telegram")
    assert "Did you mean" in await emma.say("/log 鈴木 人 online")
    assert [b.label for b in emma.buttons] == ["鈴木 人事 (人事, since 2010)"]
    assert await logged(app) == []
    assert "Logged: 鈴木 人事" in await emma.press("鈴木 人事")


async def test_one_kanji_surnames_are_found_by_kanji_and_reading(app: App) -> None:
    await company(
        app, ("谷 翔太", "たに しょうた"), ("谷口 健", "たにぐち けん"),
        ("大谷 涼", "おおたに りょう"), ("渋谷 楓", "しぶや かえで"), ("谷川 舞", "たにかわ まい"),
        ("森 誠", None),
    )  # fmt: skip
    emma = chat(app, "102", channel="telegram")
    assert "Logged: 谷 翔太" in await emma.say("/log 谷 online")
    assert "Logged: 谷 翔太" in await emma.say("/log たに 対面")
    assert "Logged: 森 誠" in await emma.say("/log 森 online")  # no reading imported: pykakasi's


@pytest.mark.parametrize(
    "typed",
    [
        "佐藤さん",
        "佐藤部長",
        "佐藤 様",
        "佐藤課長",
        "サトウサン",
        "Sato-san",
        "Sato san",
        "さとう先輩",
    ],
)
async def test_honorifics_and_titles_are_not_the_name(app: App, typed: str) -> None:
    await company(app)
    hanako = chat(app, "101", channel="telegram")
    assert "記録しました: 佐藤 太郎 さん" in await hanako.say(f"/log {typed} オンライン")


@pytest.mark.parametrize(
    ("stored", "typed"),
    [("島田 恵", "嶋田"), ("吉田 実", "𠮷田"), ("富岡 修", "冨岡"), ("峰 岸", "峯"),
     ("館山 学", "舘山"), ("園田 彩", "薗田"), ("黒田 豊", "黑田"), ("槙野 光", "槇野"),
     ("徳永 進", "德永"), ("渡辺 茂", "渡邊"), ("沢田 博", "澤田"), ("斉藤 聡", "齋藤"),
     ("広瀬 勝", "廣瀬")],
)  # fmt: skip
async def test_variant_kanji_find_the_common_form(app: App, stored: str, typed: str) -> None:
    await company(app, (stored, None))
    emma = chat(app, "102", channel="telegram")
    assert f"Logged: {stored}" in await emma.say(f"/log {typed} online")


async def test_english_names_typed_family_first(app: App) -> None:
    await company(app, ("Emma Smith", None), ("John Smithson", None))
    hanako = chat(app, "101", channel="telegram")
    assert "記録しました: Emma Smith さん" in await hanako.say("/log Smith Emma online")
    assert "記録しました: Emma Smith さん" in await hanako.say("/log smith, emma 対面 昨日")


async def test_namesakes_are_told_apart_by_department_and_years(app: App) -> None:
    await company(app)
    async with app.db.transaction() as session:
        for n, (dept, joined, left) in enumerate(
            [("営業", date(2015, 4, 1), date(2021, 3, 31)), ("開発", date(2018, 4, 1), None)]
        ):
            session.add(
                Person(name="佐藤 花子", name_kana="さとう はなこ", email=f"h{n}@example.com",
                       department=dept, joined_on=joined, left_on=left)
            )  # fmt: skip
    hanako = chat(app, "101", channel="telegram")
    assert "どなたですか" in await hanako.say("/log 佐藤 花子 オンライン")
    assert [b.label for b in hanako.buttons] == [
        "佐藤 花子（営業, 2015–2021）",
        "佐藤 花子（開発, 2018–現在）",
    ]
    emma = chat(app, "102", channel="telegram")
    await emma.say("/log Sato Hanako online")
    assert [b.label for b in emma.buttons] == [
        "佐藤 花子 (営業, 2015–2021)",
        "佐藤 花子 (開発, since 2018)",
    ]
    await emma.press("開発")
    async with app.db.transaction() as session:
        row = await session.scalar(select(Interaction))
        assert row is not None
        other = await session.get(Person, row.person_b)
        assert other is not None and other.department == "開発"


async def test_the_form_asks_which_one_and_keeps_the_note(app: App) -> None:
    await company(app, ("高橋 一郎", "たかはし いちろう"), ("髙橋 次郎", "たかはし じろう"))
    emma = chat(app, "102", channel="telegram")
    await emma.say("/log")
    await emma.say("高橋")
    await emma.press("Online")
    await emma.say("一昨日")  # the form's date field reads the same days as the command line
    assert "Several people match" in await emma.say("met at the station")
    assert "Logged: 髙橋 次郎" in await emma.press("髙橋 次郎")
    assert [(n, day, note) for n, _, day, note in await logged(app)] == [
        ("髙橋 次郎", date(2026, 11, 22), "met at the station")
    ]


async def test_a_very_common_family_name_shows_ten_and_says_how_many_more(app: App) -> None:
    given = "一郎 二郎 三郎 四郎 五郎 六郎 七郎 八郎 九郎 十郎 健 誠".split()
    await company(app, *((f"佐藤 {g}", None) for g in given))
    emma = chat(app, "102", channel="telegram")
    reply = await emma.say("/log 佐藤 online")
    assert "Several people match" in reply and "3 more match" in reply  # 13 佐藤 in all
    assert len(emma.buttons) == 10
    assert await logged(app) == []
