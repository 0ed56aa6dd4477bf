"""HR broadcasts: the form, segments, preview and confirmation in both languages, delivery
through the outbox, clicks, the delivery report, refusals, and the command line."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.cli import main
from bot.core.clock import FixedClock
from bot.core.types import Button
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from storage import broadcasts as store
from storage.models import (
    AuditEntry,
    Broadcast,
    BroadcastClick,
    Event,
    Identity,
    OutboxMessage,
    Person,
    Rsvp,
)
from tests.conftest import chat
from tests.fakes.fake_channel import FakeChannel, VirtualSleep
from tests.support.crowd import add_people
from tests.support.dialog import Chat
from tests.support.people import load_company
from tests.test_onboarding import join_directly


async def crowd(app: App) -> list[int]:
    """Six reachable alumni: Engineering (en, ja), Sales (ja) … and some who must be left out."""
    now = app.clock.now()
    ids = await add_people(
        app.db,
        6,
        now,
        department=lambda n: "Engineering" if n < 3 else "営業",
        locale=lambda n: "ja" if n % 2 else "en",
        skills=lambda n: ["Python", "SQL"] if n in (0, 3) else ["営業"],
        join_route=lambda n: "new_grad" if n < 2 else "mid_career",
        comeback=lambda n: "open" if n == 5 else "unknown",
    )
    # Left out of every segment: opted out, forgotten, never consented.
    await add_people(
        app.db, 1, now, prefix="optout", department="Engineering", opt_outs=["broadcasts"]
    )
    await add_people(app.db, 1, now, prefix="gone", department="Engineering", forgotten_at=now)
    await add_people(app.db, 1, now, prefix="new", department="Engineering", consent_at=None)
    return ids


async def hr_chat(app: App, locale: str = "en") -> Chat:
    await join_directly(app, "hr@example.com")
    async with app.db.transaction() as session:
        await session.execute(
            update(Person).where(Person.email == "hr@example.com").values(locale=locale)
        )
    return chat(app, "hr@example.com")


async def deliver(app: App, fake: FakeChannel) -> Worker:
    assert isinstance(app.clock, FixedClock)
    worker = Worker(app, {fake.name: fake}, sleep=VirtualSleep(app.clock))
    await worker.run(drain=True)
    assert worker.stats.errors == 0
    return worker


async def test_hr_broadcasts_to_a_department_in_english(app: App, clock: FixedClock) -> None:
    await load_company(app)
    await crowd(app)
    hr = await hr_chat(app)
    assert "New broadcast" in await hr.say("/broadcast")
    await hr.say("Reunion on Friday at 19:00 {bring friends}")
    await hr.press("a former department")
    await hr.say("engineering")
    await hr.press_action("form.choose", "no")
    preview = hr.text
    assert "3 people (1 read Japanese, 2 English)" in preview
    assert "As it will look in English:" in preview and "As it will look in 日本語:" in preview
    assert "📣 News from the alumni team" in preview and "アルムナイ事務局" in preview
    assert "Reunion on Friday at 19:00 {bring friends}" in preview
    assert "[I'm interested]" in preview and "[興味あり]" in preview
    assert "Queued" not in preview
    async with app.db.transaction() as session:
        assert await session.scalar(select(OutboxMessage.id)) is None  # nothing before confirm
    await hr.press("Send to 3 people")
    assert "queued for 3 people" in hr.text

    fake = FakeChannel(clock)
    await deliver(app, fake)
    by_user = {s.to.user_id: s.reply for s in fake.sent}
    assert sorted(by_user) == ["u0", "u1", "u2"]
    assert by_user["u0"].text.startswith("📣 News from the alumni team")
    assert by_user["u1"].text.startswith("📣 アルムナイ事務局からのお知らせ")
    assert [b.label for b in by_user["u1"].all_buttons()] == ["興味あり"]

    alumna = chat(app, "u1", channel="telegram")
    button = by_user["u1"].all_buttons()[0]
    assert "ありがとうございます" in await alumna.press_button(button)
    assert "すでに受け付けています" in await alumna.press_button(button)

    status = await hr.say("/broadcast status")
    assert "delivered: 3" in status and "interested: 1" in status and "finished" in status
    assert "unreachable: 0" in status and "waiting: 0" in status
    async with app.db.transaction() as session:
        report = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "broadcast_report")
            )
        ).one()
        assert "is finished: delivered 3" in report.payload["text"]
        actions = [a.action for a in await session.scalars(select(AuditEntry))]
        assert "broadcast" in actions and "broadcast_draft" in actions


async def test_hr_broadcast_in_japanese_to_a_skill_with_an_unreachable_person(
    app: App, clock: FixedClock
) -> None:
    await load_company(app)
    await crowd(app)
    hr = await hr_chat(app, "ja")
    assert "一斉送信の作成" in await hr.say("/broadcast")
    await hr.say("勉強会のお知らせ")
    await hr.press("スキル")
    await hr.say("ｐｙｔｈｏｎ")  # full-width, any case
    await hr.press_action("form.choose", "yes")
    preview = hr.text
    assert "2 人（日本語 1 人、英語 1 人）" in preview and "緊急" in preview
    await hr.press("2 人に送信")
    assert "2 人分キューに入れました" in hr.text

    fake = FakeChannel(clock)
    fake.block("u3")
    await deliver(app, fake)
    assert [s.to.user_id for s in fake.sent] == ["u0"]
    status = await hr.say("/broadcast status")
    assert "配信済み: 1" in status and "連絡不可: 1" in status and "完了" in status
    async with app.db.transaction() as session:
        item = (await session.scalars(select(Broadcast))).one()
        assert item.urgent and item.segment == "skill:python" and item.status == "done"


async def test_bad_segment_values_are_asked_again_kindly(app: App) -> None:
    await load_company(app)
    await crowd(app)
    hr = await hr_chat(app)
    await hr.say("/broadcast")
    await hr.say("Hello")
    await hr.press("a channel")
    await hr.say("fax")
    answer = await hr.press_action("form.choose", "no")
    assert "must be slack or telegram" in answer and "Which one?" in answer
    await hr.say("telegram")
    await hr.press_action("form.choose", "no")
    assert "6 people" in hr.text
    await hr.press("Cancel")
    assert "cancelled; nothing was sent" in hr.text
    assert "There is no broadcast" in await hr.say("/broadcast status 99")
    assert "Use: broadcast" in await hr.say("/broadcast now")


async def test_someone_without_hr_role_is_refused(app: App) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    assert "only available to HR" in await emma.say("/broadcast")
    await emma.say("/help")
    assert "/broadcast" not in emma.text
    assert "only available to HR" in await emma.press_button(Button("x", "broadcast.confirm", "1"))


async def test_segments(app: App, clock: FixedClock) -> None:
    await load_company(app)
    ids = await crowd(app)
    await add_people(app.db, 1, clock.now(), channel="slack", prefix="S", department="Eng")
    async with app.db.transaction() as session:
        event = Event(
            uid="e1",
            title="Reunion",
            starts_at=clock.now() + timedelta(days=3),
            ends_at=clock.now() + timedelta(days=3, hours=2),
            timezone="Asia/Tokyo",
        )
        session.add(event)
        await session.flush()
        session.add_all(
            [
                Rsvp(event_id=event.id, person_id=ids[0], status="going"),
                Rsvp(event_id=event.id, person_id=ids[1], status="no"),
                Rsvp(event_id=event.id, person_id=ids[2], status="waitlist"),
            ]
        )
        await session.execute(update(Person).where(Person.id == ids[4]).values(paused=True))

    async def total(segment: str) -> int:
        async with app.db.transaction() as session:
            parsed = store.parse_segment(segment)
            await store.check_segment(session, parsed)
            return sum((await store.count(session, parsed)).values())

    assert await total("all") == 7  # paused people are counted: their copy waits
    assert await total("department:営業") == 3
    assert await total("skill:sql") == 2
    assert await total("join_route:new_grad") == 2
    assert await total("channel:slack") == 1
    assert await total("channel:telegram") == 6
    assert await total("comeback") == 1
    assert await total(f"event:{event.id}") == 2
    for bad, key in [
        ("nobody", "broadcasts.bad_segment"),
        ("skill:", "broadcasts.target_required"),
        ("channel:fax", "broadcasts.bad_channel"),
        ("join_route:intern", "broadcasts.bad_join_route"),
        ("event:x", "broadcasts.bad_event"),
        ("event:999", "broadcasts.bad_event"),
    ]:
        with pytest.raises(store.BadSegment) as failed:
            await total(bad)
        assert failed.value.key == key


async def test_queuing_reaches_exactly_whom_the_segment_counts(app: App, clock: FixedClock) -> None:
    """Queuing checks reachability inside its INSERT … SELECT, page by page: the people who get
    a copy are exactly those `count` shows HR — no unreachable, opted-out or other-channel one."""
    await load_company(app)
    ids = await crowd(app)
    slack = await add_people(app.db, 1, clock.now(), channel="slack", prefix="S")
    async with app.db.transaction() as session:
        await session.execute(
            update(Identity).where(Identity.person_id == ids[1]).values(reachable=False)
        )
    for segment in ("all", "channel:slack", "channel:telegram", "department:営業", "skill:sql"):
        async with app.db.transaction() as session:
            parsed = store.parse_segment(segment)
            counted = sum((await store.count(session, parsed)).values())
            item = store.create(session, author_id=None, text="hi", segment=parsed,
                                urgent=False, now=clock.now(), buttons=[])  # fmt: skip
            await session.flush()
            payloads = {"en": {"text": "hi", "buttons": []}, "ja": {"text": "やあ", "buttons": []}}
            queued = await store.enqueue(session, item, payloads, "ja", clock.now(), batch=2)
            people = set(
                await session.scalars(
                    select(OutboxMessage.person_id).where(OutboxMessage.broadcast_id == item.id)
                )
            )
        assert queued == counted == len(people), segment
        assert ids[1] not in people, segment
        assert (slack[0] in people) == (segment in ("all", "channel:slack")), segment


async def test_enqueueing_is_batched_and_idempotent(sqlite_app: App, clock: FixedClock) -> None:
    app = sqlite_app
    await add_people(app.db, 2500, clock.now())
    seen: list[int] = []
    async with app.db.transaction() as session:
        item = store.create(
            session,
            author_id=None,
            text="hi",
            segment=store.parse_segment("all"),
            urgent=False,
            now=clock.now(),
            buttons=[],
        )
        await session.flush()
        payloads = {"en": {"text": "hi", "buttons": []}, "ja": {"text": "やあ", "buttons": []}}
        queued = await store.enqueue(
            session, item, payloads, "ja", clock.now(), batch=1000, progress=seen.append
        )
        item.status = "queued"
        again = await store.enqueue(session, item, payloads, "ja", clock.now(), batch=1000)
    assert queued == again == 2500 and seen == [1000, 2000, 2500]


def test_cli_broadcast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0

    async def seed() -> None:
        from bot.core.settings import load_settings

        app = App.build(load_settings(), FixedClock())
        await add_people(app.db, 30, FixedClock().now(), department="Engineering")
        await add_people(app.db, 5, FixedClock().now(), prefix="s", channel="slack")
        await app.close()

    asyncio.run(seed())
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["broadcast", "--segment", "department:Engineering", "--text", "Hi"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["broadcast", "--segment", "fax:1", "--text", "Hi", "--yes"]) == 2
    assert "segment" in capsys.readouterr().err
    assert main(["broadcast", "--segment", "channel:slack", "--text", "Hi", "--yes"]) == 0
    assert "5" in capsys.readouterr().out
    assert main(["broadcast", "--segment", "all", "--text", "Hello all", "--yes"]) == 0
    assert "35" in capsys.readouterr().out

    async def check() -> None:
        from bot.core.settings import load_settings

        app = App.build(load_settings(), FixedClock())
        async with app.db.transaction() as session:
            rows = (await session.scalars(select(Broadcast).order_by(Broadcast.id))).all()
            assert [(b.segment, b.recipients, b.status) for b in rows] == [
                ("channel:slack", 5, "queued"),
                ("all", 35, "queued"),
            ]
            audit = (await session.scalars(select(AuditEntry))).all()
            assert [a.action for a in audit] == ["broadcast", "broadcast"]
            assert await session.scalar(select(BroadcastClick.id)) is None
        await app.close()

    asyncio.run(check())


def test_cli_worker_drains_the_console_without_any_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    assert main(["worker", "--drain"]) == 0
    captured = capsys.readouterr()
    assert "nothing due" in captured.out
    # one line saying what it can and cannot reach, and how to reach more
    err = captured.err.strip()
    assert "console only" in err and "TELEGRAM_BOT_TOKEN" in err and len(err.splitlines()) == 1
