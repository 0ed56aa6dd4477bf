"""The inbox on both databases: a platform's retry is dropped, one conversation is handled in
order and one item at a time, at most `concurrency` at once, what a dead process held is taken
over when its lease ends, and an item that keeps killing its handler is given up."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.core.clock import FixedClock
from bot.core.settings import InboxSettings
from bot.runtime.app import App
from bot.runtime.inbox import Inbox
from handlers.housekeeping import housekeeping
from storage import inbox as store
from storage.models import InboxItem, InboxState


def make_inbox(app: App, **settings: Any) -> Inbox:
    return Inbox(app.db, app.clock, InboxSettings(**settings))


async def items(app: App) -> list[InboxItem]:
    async with app.db.transaction() as session:
        return list(await session.scalars(select(InboxItem).order_by(InboxItem.id)))


async def test_a_retry_is_dropped_and_a_handled_item_keeps_no_words(
    app: App, clock: FixedClock
) -> None:
    inbox = make_inbox(app)
    seen: list[dict[str, Any]] = []

    async def handle(body: dict[str, Any]) -> None:
        seen.append(body)

    inbox.register("telegram", handle)
    assert await inbox.record("telegram", "1001", ":5", {"text": "山田です"})
    assert not await inbox.record("telegram", "1001", ":5", {"text": "山田です"})  # retry
    running = asyncio.create_task(inbox.run())
    try:
        await inbox.idle()
    finally:
        await inbox.stop()
        await running
    assert seen == [{"text": "山田です"}]
    (item,) = await items(app)
    assert item.state == InboxState.DONE and item.body == {}  # the id stays, the text goes
    assert not await inbox.record("telegram", "1001", ":5", {"text": "again"})
    clock.advance(hours=49)
    assert await housekeeping(app) >= 1
    assert await items(app) == []


async def test_one_conversation_in_order_and_at_most_concurrency_at_once(app: App) -> None:
    inbox = make_inbox(app, concurrency=3)
    busy: set[str] = set()
    peak = 0
    order: dict[str, list[int]] = {}

    async def handle(body: dict[str, Any]) -> None:
        nonlocal peak
        chat = body["chat"]
        assert chat not in busy, "two items of one conversation at once"
        busy.add(chat)
        peak = max(peak, len(busy))
        await asyncio.sleep(0.01)  # a platform call
        order.setdefault(chat, []).append(body["n"])
        busy.discard(chat)

    inbox.register("slack", handle)
    for n in range(10):
        for chat in "abcde":
            await inbox.record("slack", f"{chat}{n}", chat, {"chat": chat, "n": n})
    running = asyncio.create_task(inbox.run())
    try:
        await inbox.idle()
    finally:
        await inbox.stop()
        await running
    assert order == {chat: list(range(10)) for chat in "abcde"}
    assert peak <= 3  # never more than `concurrency` at once
    assert peak > 1  # and conversations side by side


async def test_what_a_dead_process_held_is_taken_over_and_a_poison_item_is_given_up(
    app: App, clock: FixedClock
) -> None:
    now, lease = clock.now(), timedelta(seconds=30)
    await store.record(app.db, "telegram", "1", ":7", {"n": 1}, now)
    await store.record(app.db, "telegram", "2", ":8", {"n": 2}, now)
    taken, _ = await store.claim(app.db, "dead-process", now, 10, lease, max_attempts=2)
    assert [i.body["n"] for i in taken] == [1, 2]
    # Before the lease ends nobody else takes them; after it, another process does.
    assert (await store.claim(app.db, "other", now, 10, lease, max_attempts=2))[0] == []
    clock.advance(seconds=31)
    again, _ = await store.claim(app.db, "other", clock.now(), 1, lease, max_attempts=2)
    assert [i.body["n"] for i in again] == [1] and again[0].attempts == 2
    clock.advance(seconds=31)  # "other" died too: a third time is one too many
    taken, dead = await store.claim(app.db, "third", clock.now(), 10, lease, max_attempts=2)
    assert [i.body["n"] for i in dead] == [1] and [i.body["n"] for i in taken] == [2]
    states = {i.key: i.state for i in await items(app)}
    assert states == {"1": InboxState.DEAD, "2": InboxState.HANDLING}


async def test_a_conversation_being_claimed_elsewhere_is_not_taken_out_of_order(
    app: App, clock: FixedClock
) -> None:
    """Two `serve` processes on PostgreSQL: while one's claim has locked a conversation's first
    item and not yet marked it, the other must not take that conversation's second."""
    if app.db.is_sqlite:
        pytest.skip("SQLite has one writer: two claims never overlap")
    now, lease = clock.now(), timedelta(seconds=30)
    for key, chat in (("x1", "x"), ("x2", "x"), ("y1", "y")):
        await store.record(app.db, "telegram", key, chat, {"key": key}, now)
    async with app.db.transaction() as session:  # the other process's claim, under way
        await session.execute(select(InboxItem).where(InboxItem.key == "x1").with_for_update())
        taken, _ = await store.claim(app.db, "this", now, 10, lease, max_attempts=5)
    assert [i.body["key"] for i in taken] == ["y1"]


async def test_a_clean_stop_gives_back_what_it_had_not_handled(app: App) -> None:
    inbox = make_inbox(app, concurrency=1, stop_seconds=0)
    started = asyncio.Event()

    async def handle(body: dict[str, Any]) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes on its own

    inbox.register("telegram", handle)
    for n in range(3):
        await inbox.record("telegram", str(n), f":{n}", {"n": n})
    running = asyncio.create_task(inbox.run())
    await started.wait()
    await inbox.stop()
    await running
    rows = await items(app)
    assert {r.state for r in rows} == {InboxState.QUEUED}  # due at once for the next process
    assert all(r.lease_until is None and r.attempts == 0 for r in rows)


def count_inserts(app: App) -> list[str]:
    """The INSERT statements sent to the database from now on."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            sent.append(statement)

    event.listen(app.db.engine.sync_engine, "before_cursor_execute", seen)
    return sent


async def test_requests_arriving_together_share_one_write_and_a_repeat_is_told_apart(
    app: App,
) -> None:
    inbox = make_inbox(app)
    inserts = count_inserts(app)
    fresh = await asyncio.gather(
        *(inbox.record("slack", f"cmd{n}", f"T1:U{n}", {"n": n}) for n in range(20)),
        inbox.record("slack", "cmd7", "T1:U7", {"n": 7}),  # Slack's retry, at the same moment
    )
    assert fresh == [True] * 20 + [False]  # only one of the two cmd7 is new
    assert len(inserts) == 1  # 21 requests, one write before their acks
    assert sorted(r.body["n"] for r in await items(app)) == list(range(20))
    # Two at once with the same key, neither seen before: exactly one is new.
    assert sorted(
        await asyncio.gather(*(inbox.record("slack", "y", "T1:U1", {}) for _ in "ab"))
    ) == [False, True]


async def test_a_failed_write_fails_every_request_of_its_batch_so_none_is_acknowledged(
    app: App,
) -> None:
    inbox = make_inbox(app)
    outcome = await asyncio.gather(
        inbox.record("slack", "good", "T1:U1", {"text": "help"}),
        inbox.record("slack", "bad", "T1:U2", {"not json": {1, 2}}),  # the write fails
        return_exceptions=True,
    )
    assert all(isinstance(result, Exception) for result in outcome)  # nobody acks
    assert await items(app) == []  # and nothing was kept: Slack retries both
    assert await inbox.record("slack", "good", "T1:U1", {"text": "help"})  # the retry is new
