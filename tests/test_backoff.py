"""Fewer messages to people who stopped answering: after three unanswered check-ins the cadence
stretches to twice its period (said once), after six they stop (said on the last), and any
answer brings the chosen cadence back. "Skip this one" is an answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import select

from bot.core.clock import FixedClock
from bot.core.types import Button
from bot.runtime.app import App
from handlers import checkins
from storage.models import Person
from tests.conftest import chat
from tests.support.members import outbox, update_person
from tests.test_engagement import company


async def _next_at(app: App) -> datetime:
    async with app.db.transaction() as session:
        at = await session.scalar(
            select(Person.next_checkin_at).where(Person.email == "hanako@example.com")
        )
    assert at is not None
    return at


async def _tick_when_due(app: App, clock: FixedClock) -> datetime:
    due = await _next_at(app)
    clock.current = due + timedelta(minutes=1)
    await checkins.tick_checkins(app)
    return due


async def _hanakos(app: App) -> list[str]:
    """Hanako's check-ins, oldest first (outbox ids are UUIDs: ordered by when they were queued)."""
    rows = [(row.created_at, r.text) for email, r, row in await outbox(app, "checkin")
            if email == "hanako@example.com"]  # fmt: skip
    return [text for _, text in sorted(rows)]


async def test_unanswered_checkins_stretch_then_stop_and_an_answer_restores(
    app: App, clock: FixedClock
) -> None:
    await company(app)
    await update_person(app, "hanako@example.com", checkin_cadence="weekly",
                        next_checkin_at=clock.now() + timedelta(hours=1))  # fmt: skip
    sent_at = [await _tick_when_due(app, clock) for _ in range(6)]
    texts = await _hanakos(app)
    assert len(texts) == 6
    gaps = [(b - a).days for a, b in pairwise(sent_at)]
    assert all(6 <= g <= 9 for g in gaps[:3]), gaps  # weekly (a holiday may add a day or two)
    assert all(13 <= g <= 16 for g in gaps[3:]), gaps  # every two weeks from the fourth on
    assert ["お忙しいようなので" in t for t in texts] == [False, False, False, True, False, False]
    assert ["返信がなければ" in t for t in texts] == [False] * 5 + [True]

    await _tick_when_due(app, clock)  # the seventh: not sent
    assert len(await _hanakos(app)) == 6
    hanako = chat(app, "101", channel="telegram")
    assert "停止中" in await hanako.say("/settings")

    await hanako.press_button(Button("x", "checkin.answer", "skip"))  # an old check-in's button
    assert "スキップしました。次回のチェックインは" in hanako.text
    before = await _next_at(app)
    await _tick_when_due(app, clock)
    assert len(await _hanakos(app)) == 7
    assert 6 <= ((await _next_at(app)) - before).days <= 9  # weekly again


async def test_skip_this_one_says_when_the_next_comes(app: App, clock: FixedClock) -> None:
    await company(app)
    hanako = chat(app, "101", channel="telegram")
    await hanako.press_button(
        checkins.checkin_reply(app.catalogs.translator("ja"), "花子").buttons[1][1]
    )
    assert "スキップしました。次回のチェックインは" in hanako.text
