"""One meaning of a segment everywhere: broadcasts, event audiences and reports."""

from __future__ import annotations

import pytest

from bot.app import App
from storage import events, segments
from storage.broadcasts import recipients
from tests.members import member, person
from tests.people import load_company


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
