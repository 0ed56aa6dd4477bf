"""One meaning of a segment everywhere: broadcasts, event audiences and reports."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.runtime.app import App
from storage import events, segments
from storage.broadcasts import recipients
from storage.reports import facts as report_facts
from storage.reports.filter import make_filter
from tests.support.members import member, person
from tests.support.people import load_company


@pytest.mark.parametrize(
    ("text", "members"),
    [
        ("all", {"hanako", "emma", "taro"}),
        ("alumni", {"hanako", "emma"}),
        ("employees", {"taro"}),
        ("department:営業", {"hanako", "taro"}),
        ("skill:python", {"emma"}),
        ("join_route:new_grad", {"hanako"}),
        ("channel:telegram", {"hanako", "emma", "taro"}),
    ],
)
async def test_each_kind_selects_the_same_people_for_every_feature(
    app: App, text: str, members: set[str]
) -> None:
    await load_company(app)
    for name, uid in (("hanako", "1"), ("emma", "2"), ("taro", "3")):
        await member(app, f"{name}@example.com", uid)
    ids = {(await person(app, f"{n}@example.com")).id: n for n in ("hanako", "emma", "taro")}
    segment = segments.parse_segment(text)
    async with app.db.transaction() as session:
        inside = {ids[p] for p in ids if await segments.contains(session, segment, p)}
        invited = {ids[p.id] for p in await events.audience(session, segment) if p.id in ids}
        reached = {ids[pid] for chunk in [c async for c in recipients(session, segment)]
                   for pid, _ in chunk if pid in ids}  # fmt: skip
    assert inside == invited == members
    assert reached == members


@pytest.mark.parametrize(
    "text", ["nobody", "department:", "channel:fax", "join_route:intern", "event:x"]
)
def test_bad_segments_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(segments.BadSegment) as refused:
        segments.parse_segment(text)
    assert refused.value.key.startswith("broadcasts.")


async def test_a_skill_typed_full_width_is_found_by_every_feature(app: App) -> None:
    """A Japanese keyboard types ｐｙｔｈｏｎ and half-width ｴｸｾﾙ; the profile keeps them as
    everyone else types them, so a segment written either way finds the person everywhere."""
    await load_company(app)
    hanako = await member(app, "hanako@example.com", "1", locale="ja")
    await hanako.say("/profile")
    await hanako.press("プロフィールを編集")
    await hanako.say("ｐｙｔｈｏｎ、ｴｸｾﾙ、Ｐｙｔｈｏｎ")
    await hanako.say("")
    await hanako.say("　大阪　")
    answer = await hanako.press("関心あり")
    assert "スキル: python, エクセル" in answer and "所在地: 大阪\n" in answer
    me = (await person(app, "hanako@example.com")).id
    for text in ("skill:Python", "skill:ＰＹＴＨＯＮ", "skill:エクセル"):
        segment = segments.parse_segment(text)
        async with app.db.transaction() as session:
            assert await segments.contains(session, segment, me), text
            assert me in {p.id for p in await events.audience(session, segment)}, text
            assert me in {pid async for chunk in recipients(session, segment) for pid, _ in chunk}
            f = make_filter(app.clock.now().date(), segment=text)
            async with report_facts.facts(session, f) as facts:
                assert me in set(await session.scalars(select(facts.c.id))), text
