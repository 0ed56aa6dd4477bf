"""LINE end to end: the real `serve` app's webhook, signed like LINE signs it, against a fake
Messaging API on 127.0.0.1 that line-bot-sdk's async client talks to and that enforces LINE's
limits. Japanese first; English where the person's LINE is in English."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from bot.channels import configured_channels
from bot.channels.line import render
from bot.channels.line.channel import LineChannel, setup_command
from bot.cli import build_parser, cmd_platform_setup
from bot.core import markup
from bot.core.channel import Channel, RateLimited, Recipient, TransientError, Unreachable
from bot.core.clock import FixedClock
from bot.core.settings import Settings
from bot.core.types import Attachment, Button, Reply
from bot.core.utf16 import utf16_len
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from bot.runtime.web import build_web_app
from storage import buttons, invites, outbox, people, quota, segments
from storage.models import Identity, OutboxKind, OutboxMessage, Role
from tests.conftest import make_settings
from tests.fakes.fake_channel import FakeChannel, VirtualSleep
from tests.fakes.line_api import BASIC_ID, SECRET, TOKEN, FakeLineAPI, LineUser, check_message
from tests.support.people import load_company

HANAKO = LineUser("U" + "1" * 32, "花子", "ja")
EMMA = LineUser("U" + "2" * 32, "Emma", "en")
SUZUKI = LineUser("U" + "3" * 32, "鈴木", "ja")  # HR


@pytest.fixture
async def fake() -> AsyncIterator[FakeLineAPI]:
    api = FakeLineAPI()
    await api.start()
    for user in (HANAKO, EMMA, SUZUKI):
        api.add_user(user)
    yield api
    await api.close()


def line_settings(database_url: str, fake: FakeLineAPI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "line_channel_secret": SECRET,
        "line_channel_access_token": TOKEN,
        "line_api_url": fake.api_url,
        **overrides,
    }
    return make_settings(database_url, **values)


@dataclass
class Served:
    app: App
    fake: FakeLineAPI
    client: httpx.AsyncClient
    channel: LineChannel

    @property
    def now_ms(self) -> int:
        return int(self.app.clock.now().timestamp() * 1000)

    async def post(self, *events: dict[str, Any], signature: str | None = "") -> httpx.Response:
        """POST the webhook (signed unless told otherwise), then wait until it is handled."""
        body = self.fake.body(*events)
        return await self.post_raw(body, self.fake.signed(body) if signature == "" else signature)

    async def post_raw(self, body: bytes, signature: str | None) -> httpx.Response:
        headers = {"X-Line-Signature": signature} if signature is not None else {}
        response = await self.client.post("/line/webhook", content=body, headers=headers)
        await self.app.inbox.idle()
        return response

    async def deliver(self, user: LineUser, *events: dict[str, Any]) -> str:
        before = len(self.fake.texts(user.user_id))
        response = await self.post(*events)
        assert response.status_code == 200, response.text
        return "\n".join(self.fake.texts(user.user_id)[before:])

    async def say(self, user: LineUser, text: str) -> str:
        return await self.deliver(user, self.fake.event_text(user, text, self.now_ms))

    async def press(self, user: LineUser, label: str) -> str:
        data = next(d for lab, d in reversed(self.fake.postbacks(user.user_id)) if label in lab)
        return await self.deliver(user, self.fake.event_postback(user, data, self.now_ms))


@asynccontextmanager
async def serving(
    settings: Settings, clock: FixedClock, fake: FakeLineAPI
) -> AsyncIterator[Served]:
    app = App.build(settings, clock)
    channels = configured_channels(app)
    assert [c.name for c in channels] == ["line"]
    channel = channels[0]
    assert isinstance(channel, LineChannel)
    web = build_web_app(app, channels)
    try:
        async with web.router.lifespan_context(web):
            transport = httpx.ASGITransport(app=web)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
                yield Served(app, fake, client, channel)
    finally:
        await app.close()


@pytest.fixture
async def served(sqlite_url: str, clock: FixedClock, fake: FakeLineAPI) -> AsyncIterator[Served]:
    async with serving(line_settings(sqlite_url, fake), clock, fake) as s:
        await load_company(s.app)
        yield s


async def code_for(app: App, email: str) -> str:
    async with app.db.transaction() as session:
        person = await people.person_by_email(session, email)
        assert person is not None
        invite = await invites.create(
            session, person=person, created_by=None, now=app.clock.now(), days=7
        )
        return invite.code


async def join(s: Served, user: LineUser, email: str) -> None:
    """Join from LINE as the invite's link does: `join CODE`, typed without a slash."""
    code = await code_for(s.app, email)
    ja = user.language == "ja"
    assert ("同意" if ja else "agree") in await s.say(user, f"join {code}")
    await s.press(user, "同意する" if ja else "I agree")
    await s.press(user, "日本語" if ja else "English")
    done = await s.press(user, "Asia/Tokyo")
    assert ("設定が完了しました" if ja else "All set") in done


# -- the webhook --------------------------------------------------------------------------------


async def test_a_signed_text_is_answered_with_the_free_reply_token(served: Served) -> None:
    s, fake = served, served.fake
    assert fake.calls[0].path == "/v2/bot/info"  # the token is checked at start-up
    answer = await s.say(HANAKO, "help")
    assert "招待コード" in answer  # not joined yet: how to join, in her LINE's language
    assert fake.messages_to(HANAKO.user_id, "reply") and not fake.pushes()
    assert "invite code" in await s.say(EMMA, "ヘルプ")  # Japanese command words, English LINE


@pytest.mark.parametrize("signature", [None, "", "bm9wZQ==", "wrong"])
async def test_an_unsigned_or_tampered_webhook_is_refused_and_processes_nothing(
    served: Served, signature: str | None
) -> None:
    s, fake = served, served.fake
    event = fake.event_text(HANAKO, "help", s.now_ms)
    response = await s.post(event, signature=signature if signature != "" else None)
    assert response.status_code == 401
    body = fake.body(event)
    forged = body.replace(b"help", b"stat")  # signed, then changed on the way
    assert (await s.post_raw(forged, fake.signed(body))).status_code == 401
    assert (await s.post_raw(body, fake.signed(body, "another secret"))).status_code == 401
    assert not fake.delivered
    # Nothing was recorded: the genuine delivery of that event is answered.
    assert "招待コード" in await s.deliver(HANAKO, event)


async def test_a_redelivered_event_is_handled_once(served: Served) -> None:
    s, fake = served, served.fake
    event = fake.event_text(HANAKO, "help", s.now_ms)
    assert (await s.post(event)).status_code == 200
    again = {**event, "deliveryContext": {"isRedelivery": True}}
    responses = await asyncio.gather(*(s.post(again) for _ in range(4)))
    assert {r.status_code for r in responses} == {200}
    assert len(fake.messages_to(HANAKO.user_id)) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[1, 2]", 400),
        (b'{"destination": "U"}', 400),
        (b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", 400),
        (b'{"events": []}', 200),  # the console's "Verify"
        (b'{"events": [1, "x", null]}', 200),
        (b'{"events": [{"type": "message"}]}', 200),
        (b'{"events": [{"type": "message", "source": {"type": "user", "userId": 5}}]}', 200),
        (b'{"events": [{"type": "beacon", "source": {"type": "user", "userId": "U1"}}]}', 200),
        (b'{"events": [{"type": "message", "source": {"type": "group", "groupId": "C1"}}]}', 200),
        (b'{"events": [{"type": "postback", "source": {"type": "user", "userId": "U1"}}]}', 200),
    ],
)
async def test_bad_events_are_never_a_server_error(
    served: Served, body: bytes, status: int
) -> None:
    response = await served.post_raw(body, served.fake.signed(body))
    assert response.status_code == status


async def test_a_10000_character_text_and_a_sticker_get_one_clear_answer(served: Served) -> None:
    s, fake = served, served.fake
    assert "長すぎます" in await s.say(HANAKO, "あ" * 10_000)
    sticker = fake.event_text(HANAKO, "", s.now_ms)
    sticker["message"] = {"id": "9", "type": "sticker", "packageId": "1", "stickerId": "1"}
    assert "テキストのみ" in await s.deliver(HANAKO, sticker)


# -- rendering within LINE's limits ------------------------------------------------------------


def test_rendering_keeps_every_limit() -> None:
    def tokens(reply: Reply) -> dict[tuple[str, str], str]:
        return {k: f"t{n:0>15}" for n, k in enumerate(render.button_keys(reply))}

    long_label = "とても長いボタンのラベルでございます二十文字を超える"
    cases = [
        Reply("あ" * 12_000),
        Reply("短い", ((Button(long_label, "a", "1"), Button("いいえ", "a", "2")),)),
        Reply("い" * 400, ((Button("はい", "a", "1"),),)),
        Reply("", tuple((Button(f"選択肢{n}", "a", str(n)),) for n in range(9))),
        Reply("多い", tuple((Button(f"b{n}", "a", str(n)),) for n in range(30))),
    ]
    for reply in cases:
        messages = render.render(reply, tokens(reply))
        for n, message in enumerate(messages):
            check_message(message, n)  # the fake's rules: what LINE refuses
        assert all(len(b) <= render.MAX_MESSAGES for b in render.batches(messages))
        shown = [a for m in messages for a in m.get("template", {}).get("actions", [])]
        shown += [i["action"] for m in messages for i in m.get("quickReply", {}).get("items", [])]
        assert len(shown) == len(reply.all_buttons())  # no button is lost
    assert "".join(m["text"] for m in render.render(cases[0], {})) == "あ" * 12_000


async def test_long_answers_are_split_and_the_overflow_is_pushed(served: Served) -> None:
    s, fake = served, served.fake
    replies = [Reply("あ" * 6000)] * 4  # 8 text messages: 5 by reply, 3 by push
    event = fake.event_text(HANAKO, "x", s.now_ms)
    await s.channel.answer(HANAKO.user_id, await s.channel._actor(HANAKO.user_id), replies, event)
    assert len(fake.messages_to(HANAKO.user_id, "reply")) == 4
    assert len(fake.messages_to(HANAKO.user_id, "push")) == 4
    assert "".join(fake.texts(HANAKO.user_id)) == "あ" * 24_000


# -- joining and every feature in LINE --------------------------------------------------------


async def test_alumna_joins_by_invite_and_uses_the_features_in_japanese(served: Served) -> None:
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    assert "profile" in await s.say(HANAKO, "help")
    profile = await s.say(HANAKO, "プロフィール")
    assert "営業" in profile and "LINE" in profile

    # The profile form, one field a message, with cancel half way.
    assert "(1/4)" in await s.press(HANAKO, "プロフィールを編集")
    assert "(2/4)" in await s.say(HANAKO, "Python; SQL")
    assert "キャンセルしました" in await s.say(HANAKO, "cancel")
    await s.press(HANAKO, "プロフィールを編集")
    await s.say(HANAKO, "Python; SQL")
    await s.say(HANAKO, "マネージャー")
    assert "(4/4)" in await s.say(HANAKO, "大阪")
    saved = await s.press(HANAKO, "関心あり")
    assert "保存しました" in saved and "大阪" in saved

    for command, expected in [
        ("checkin", "交流"),
        ("jobs", "求人"),
        ("perks", "特典"),
        ("events", "イベント"),
        ("settings", "設定"),
        ("survey", "1"),
    ]:
        assert expected in await s.say(HANAKO, command), command
    # Every button anyone was shown carried an opaque token, never the action or payload.
    assert all(len(data) <= 24 for _, data in fake.postbacks(HANAKO.user_id))


async def test_a_stale_or_forged_postback_has_expired(served: Served) -> None:
    s, fake = served, served.fake
    for data in ("forged", "x" * 300, "日本語"):
        event = fake.event_postback(HANAKO, data, s.now_ms)
        assert "有効期限" in await s.deliver(HANAKO, event)


async def test_an_english_line_user_joins_in_english(served: Served) -> None:
    await join(served, EMMA, "emma@example.com")
    assert "Engineering" in await served.say(EMMA, "profile")


def test_a_webhook_body_is_json_the_sdk_reads() -> None:
    fake = FakeLineAPI()
    body = json.loads(fake.body(fake.event_text(HANAKO, "hi", 0)))
    assert body["events"][0]["source"]["userId"] == HANAKO.user_id
    assert BASIC_ID.startswith("@")


# -- pushes: retry keys, 429, the outbox ------------------------------------------------------


async def queue_for(
    s: Served, email: str, text: str, kind: str, key: str, urgent: bool = True
) -> None:
    async with s.app.db.transaction() as session:
        person = await people.person_by_email(session, email)
        assert person is not None
        await outbox.enqueue(
            session, person_id=person.id, reply=Reply(text, ((Button("はい", "a", "1"),),)),
            key=key, kind=kind, now=s.app.clock.now(), urgent=urgent,
        )  # fmt: skip


def worker(s: Served, clock: FixedClock) -> Worker:
    return Worker(s.app, {"line": s.channel}, sleep=VirtualSleep(clock))


async def test_a_push_carries_a_retry_key_and_a_retried_push_is_delivered_once(
    served: Served, clock: FixedClock
) -> None:
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    await queue_for(s, "hanako@example.com", "お元気ですか", OutboxKind.CHECKIN, "c1")
    assert (await worker(s, clock).run(drain=True)).sent == 1
    [push] = fake.calls_to("/v2/bot/message/push")
    key = push.headers["X-Line-Retry-Key"]
    assert str(uuid.UUID(key)) == key
    assert fake.pushes(HANAKO.user_id)[-1].messages[0]["template"]["text"] == "お元気ですか"

    # The worker died after LINE accepted the push, before it wrote "sent": the row is sent
    # again with the same key, LINE answers 409, and she has it once.
    to = Recipient("line", "", HANAKO.user_id, message_key="c1")
    assert await s.channel.send(to, Reply("お元気ですか", ((Button("はい", "a", "1"),),)))
    assert fake.calls_to("/v2/bot/message/push")[-1].headers["X-Line-Retry-Key"] == key
    assert len(fake.pushes(HANAKO.user_id)) == 1


async def test_a_push_under_429_backs_off_and_arrives(served: Served, clock: FixedClock) -> None:
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    fake.fail_next("/v2/bot/message/push", 429)
    with pytest.raises(RateLimited) as limited:
        await s.channel.send(Recipient("line", "", HANAKO.user_id, message_key="k"), Reply("x"))
    assert limited.value.retry_after > 0 and limited.value.scope == "channel"

    fake.push_per_second = 2  # beyond the fake's rate: 429, and the worker waits it out
    fake.now = lambda: clock.now().timestamp()
    for n in range(6):
        await queue_for(s, "hanako@example.com", f"お知らせ{n}", OutboxKind.CHECKIN, f"n{n}")
    stats = await worker(s, clock).run(drain=True)
    assert stats.sent == 6
    texts = [m["template"]["text"] for d in fake.pushes(HANAKO.user_id) for m in d.messages]
    assert sorted(texts) == [f"お知らせ{n}" for n in range(6)]


async def test_a_batchs_push_buttons_get_their_tokens_in_one_write(
    served: Served, clock: FixedClock
) -> None:
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    for n in range(3):
        await queue_for(s, "hanako@example.com", f"お知らせ{n}", OutboxKind.CHECKIN, f"n{n}")
    inserts: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO BUTTON_TOKENS"):
            inserts.append(statement)

    engine = s.app.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert (await worker(s, clock).run(drain=True)).sent == 3
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(inserts) == 1  # the batch's tokens at once, not a transaction a push
    data = {d for label, d in fake.postbacks(HANAKO.user_id)[-3:] if label == "はい"}
    assert len(data) == 3
    for token in data:  # each push's button stands for its action, shown to her
        pressed = await buttons.resolve(s.app.db, token, clock.now())
        assert pressed == buttons.Pressed("a", "1", HANAKO.user_id)


async def test_send_maps_line_failures_for_the_delivery_worker(served: Served) -> None:
    channel, fake = served.channel, served.fake
    with pytest.raises(Unreachable):
        await channel.send(Recipient("line", "", "not-a-line-id"), Reply("x"))
    fake.fail_next("/v2/bot/message/push", 500, "Internal Server Error")
    with pytest.raises(TransientError):
        await channel.send(Recipient("line", "", HANAKO.user_id), Reply("x"))
    fake.fail_next("/v2/bot/message/push", 429, "You have reached your monthly limit.")
    with pytest.raises(RateLimited) as limited:
        await channel.send(Recipient("line", "", HANAKO.user_id), Reply("x"))
    assert limited.value.retry_after >= 3600


async def test_an_event_handled_after_its_reply_token_expired_is_answered_by_push(
    served: Served, clock: FixedClock
) -> None:
    s, fake = served, served.fake
    # Five minutes old (a crashed `serve`; another process handles it later). Not by moving
    # the clock: the inbox may be claiming at that moment, and its lease would start in the past.
    event = fake.event_text(HANAKO, "help", s.now_ms - 5 * 60_000)
    assert "招待コード" in await s.deliver(HANAKO, event)
    assert not fake.messages_to(HANAKO.user_id, "reply")
    assert fake.pushes(HANAKO.user_id)


async def test_an_answer_whose_push_fails_goes_to_the_outbox_and_arrives(
    served: Served, clock: FixedClock
) -> None:
    s, fake = served, served.fake
    # Five minutes old (a crashed `serve`; another process handles it later). Not by moving
    # the clock: the inbox may be claiming at that moment, and its lease would start in the past.
    event = fake.event_text(HANAKO, "help", s.now_ms - 5 * 60_000)
    fake.fail_next("/v2/bot/message/push", 429)
    assert await s.deliver(HANAKO, event) == ""
    async with s.app.db.transaction() as session:
        queued = (await session.scalars(select(OutboxMessage))).one()
    assert (queued.kind, queued.recipient) == ("answer", HANAKO.user_id)
    clock.advance(seconds=2)
    assert (await worker(s, clock).run(drain=True)).sent == 1
    assert "招待コード" in "\n".join(fake.texts(HANAKO.user_id))


# -- the monthly push limit, unfollow and routing ---------------------------------------------


async def second_identity(s: Served, email: str, channel: str, user_id: str) -> None:
    """The person also has an identity elsewhere, behind LINE in their order."""
    async with s.app.db.transaction() as session:
        person = await people.person_by_email(session, email)
        assert person is not None
        session.add(Identity(person_id=person.id, channel=channel, user_id=user_id,
                             chat_id=user_id, priority=1000))  # fmt: skip


async def pushed_texts(fake: FakeLineAPI, user: LineUser) -> list[str]:
    return [
        m.get("text") or m["template"]["text"]
        for d in fake.pushes(user.user_id)
        for m in d.messages
    ]


async def test_near_the_monthly_limit_low_priority_pushes_go_elsewhere_or_wait(
    database_url: str, clock: FixedClock, fake: FakeLineAPI
) -> None:
    settings = line_settings(database_url, fake, line_monthly_push_limit=10)
    async with serving(settings, clock, fake) as s:
        await load_company(s.app)
        await join(s, HANAKO, "hanako@example.com")
        await join(s, SUZUKI, "hr@example.com")
        await second_identity(s, "hanako@example.com", "telegram", "5001")
        elsewhere = FakeChannel(clock, name="telegram")
        channels: dict[str, Channel] = {"line": s.channel, "telegram": elsewhere}
        await quota.add(s.app.db, "line", quota.month_of(clock.now()), 7)

        # 7 of 10 used: everything still goes by LINE, the 8th push included.
        await queue_for(
            s, "hanako@example.com", "求人のお知らせ1", OutboxKind.JOB, "j1", urgent=False
        )
        assert (await Worker(s.app, channels, sleep=VirtualSleep(clock)).run(drain=True)).sent
        assert await pushed_texts(fake, HANAKO) == ["求人のお知らせ1"]

        # 8 of 10: a job digest goes to her other identity; a check-in still comes by LINE.
        await queue_for(
            s, "hanako@example.com", "求人のお知らせ2", OutboxKind.JOB, "j2", urgent=False
        )
        await queue_for(
            s, "hanako@example.com", "お元気ですか", OutboxKind.CHECKIN, "c1", urgent=False
        )
        await queue_for(s, "hr@example.com", "求人のお知らせ3", OutboxKind.JOB, "j3", urgent=False)
        stats = await Worker(s.app, channels, sleep=VirtualSleep(clock)).run(drain=True)
        assert stats.sent == 2 and stats.held == 1
        assert await pushed_texts(fake, HANAKO) == ["求人のお知らせ1", "お元気ですか"]
        assert [x.reply.text for x in elsewhere.sent] == ["求人のお知らせ2"]
        # Suzuki has only LINE: his digest waits for next month (Japan's), not lost.
        async with s.app.db.transaction() as session:
            waiting = (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.idempotency_key == "j3")
                )
            ).one()
        assert waiting.state == "queued" and "monthly limit" in (waiting.last_error or "")
        assert waiting.not_before == quota.next_month(clock.now())
        assert quota.next_month(clock.now()).isoformat() == "2026-11-30T15:00:00+00:00"

        # `stats` shows the month's usage, in Japanese.
        assert "LINE プッシュ送信: 9 / 10 件（90%）" in await s.say(SUZUKI, "stats")

        # Used up: a check-in too goes elsewhere, or waits.
        await quota.add(s.app.db, "line", quota.month_of(clock.now()), 1)
        await queue_for(
            s, "hanako@example.com", "お元気ですか2", OutboxKind.CHECKIN, "c2", urgent=False
        )
        await queue_for(
            s, "hr@example.com", "お元気ですか3", OutboxKind.CHECKIN, "c3", urgent=False
        )
        stats = await Worker(s.app, channels, sleep=VirtualSleep(clock)).run(drain=True)
        assert stats.sent == 1 and stats.held == 1
        assert [x.reply.text for x in elsewhere.sent] == ["求人のお知らせ2", "お元気ですか2"]
        # Answers to what people ask are replies: free, and never held back.
        assert "LINE" in await s.say(SUZUKI, "プロフィール")


async def test_pushes_are_counted_in_the_database(served: Served, clock: FixedClock) -> None:
    s = served
    await join(s, HANAKO, "hanako@example.com")
    await queue_for(s, "hanako@example.com", "お元気ですか", OutboxKind.CHECKIN, "c1")
    await worker(s, clock).run(drain=True)
    async with s.app.db.transaction() as session:
        used = await quota.used(session, ["line"], quota.month_of(clock.now()))
    assert used == {"line": 1} and s.fake.pushed_this_month == 1
    await join(s, SUZUKI, "hr@example.com")  # no limit set: the usage is shown all the same
    assert "LINE プッシュ送信: 1 件（月間上限の設定なし）" in await s.say(SUZUKI, "stats")


async def test_after_unfollow_messages_go_to_another_identity(
    served: Served, clock: FixedClock
) -> None:
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    await second_identity(s, "hanako@example.com", "telegram", "5001")
    assert (await s.post(fake.event_unfollow(HANAKO, s.now_ms))).status_code == 200
    async with s.app.db.transaction() as session:
        line_id = (await session.scalars(select(Identity).where(Identity.channel == "line"))).one()
    assert not line_id.reachable and line_id.unreachable_reason == "unfollowed on LINE"

    elsewhere = FakeChannel(clock, name="telegram")
    await queue_for(s, "hanako@example.com", "お元気ですか", OutboxKind.CHECKIN, "c1")
    channels: dict[str, Channel] = {"line": s.channel, "telegram": elsewhere}
    assert (await Worker(s.app, channels, sleep=VirtualSleep(clock)).run(drain=True)).sent == 1
    assert [x.reply.text for x in elsewhere.sent] == ["お元気ですか"] and not fake.pushes()

    # She adds the bot again: greeted, reachable on LINE again, and LINE is first again.
    greeting = await s.deliver(HANAKO, fake.event_follow(HANAKO, s.now_ms))
    assert "友だち追加ありがとうございます" in greeting
    async with s.app.db.transaction() as session:
        assert (await session.get(Identity, line_id.id)).reachable  # type: ignore[union-attr]


async def test_following_greets_and_explains_joining_and_consent(served: Served) -> None:
    s, fake = served, served.fake
    greeting = await s.deliver(HANAKO, fake.event_follow(HANAKO, s.now_ms))
    assert "友だち追加" in greeting and "join" in greeting and "同意" in greeting
    assert "招待コード" in greeting  # and help, as for anyone who has not joined
    english = LineUser("U" + "4" * 32, "Ann", "en")
    assert "invite code" in await s.deliver(english, fake.event_follow(english, s.now_ms))


async def test_hr_invites_from_line_with_the_line_link(served: Served) -> None:
    s = served
    assert s.app.settings.line_basic_id == BASIC_ID  # from /v2/bot/info at start-up
    await join(s, SUZUKI, "hr@example.com")
    answer = await s.say(SUZUKI, "invite emma@example.com")
    link = f"https://line.me/R/oaMessage/{BASIC_ID}/?join%20"
    assert link in answer
    code = answer.rsplit("join%20", 1)[1].split()[0]
    # Opening the link fills the chat with "join CODE": sending it joins.
    assert "agree" in await s.say(EMMA, f"join {code}")


async def test_a_segment_of_people_on_line(served: Served) -> None:
    s = served
    await join(s, HANAKO, "hanako@example.com")
    segment = segments.parse_segment("channel:LINE")
    async with s.app.db.transaction() as session:
        query = segments.people_in(segment, "sqlite")
        assert query is not None
        found = list(await session.scalars(query))
        hanako = await people.person_by_email(session, "hanako@example.com")
    assert hanako is not None and found == [hanako.id]


# -- the rich menu ----------------------------------------------------------------------------


async def test_serve_sets_up_the_rich_menu_of_the_main_commands(served: Served) -> None:
    fake = served.fake
    [menu_id] = fake.rich_menus
    assert fake.default_rich_menu == menu_id
    assert fake.rich_menu_images[menu_id].startswith(b"\x89PNG")
    texts = [a["action"]["text"] for a in fake.rich_menus[menu_id]["areas"]]
    assert texts == ["help", "profile", "checkin", "jobs", "events", "settings"]
    assert "招待コード" in await served.say(HANAKO, texts[0])  # a tile is a typed command


async def test_line_setup_replaces_the_menu(served: Served) -> None:
    fake = served.fake
    [first] = fake.rich_menus
    answer = await setup_command(served.app)
    [second] = fake.rich_menus
    assert second != first and fake.default_rich_menu == second
    assert second in answer and BASIC_ID in answer
    args = build_parser().parse_args(["line", "setup"])
    assert args.func is cmd_platform_setup and args.platform.name == "line"


async def test_every_command_answers_in_line_without_an_apology(served: Served) -> None:
    s = served
    await join(s, SUZUKI, "hr@example.com")
    async with s.app.db.transaction() as session:
        suzuki = await people.person_by_email(session, "hr@example.com")
        assert suzuki is not None
        await people.grant(session, suzuki, Role.ADMIN, None, s.app.clock.now())
    commands = [r.command for r in s.app.dispatcher.router.routes if r.command and r.listed]
    assert len(commands) > 15
    for command in commands:
        answer = await s.say(SUZUKI, command)
        if "キャンセル" in answer or "(1/" in answer:  # a form began: leave it
            await s.say(SUZUKI, "cancel")
        assert answer and "申し訳" not in answer, command
    for _, data in s.fake.postbacks(SUZUKI.user_id):
        assert len(data) <= render.MAX_DATA


async def test_mydata_arrives_as_text_and_a_chart_says_where_to_get_it(served: Served) -> None:
    s = served
    await join(s, HANAKO, "hanako@example.com")
    answer = await s.say(HANAKO, "mydata")
    assert "mydata-" in answer and "山田 花子" in answer and '"email"' in answer
    reply = Reply("グラフ", attachment=Attachment("chart.png", b"\x89PNG", "image/png", True))
    [message] = render.render(reply, {}, "（LINE ではファイルを送れません）")
    assert message["text"] == "グラフ\n\n（LINE ではファイルを送れません）"


async def test_routing_prefers_line_once_the_person_chooses_it(
    served: Served, clock: FixedClock
) -> None:
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    async with s.app.db.transaction() as session:
        person = await people.person_by_email(session, "hanako@example.com")
        assert person is not None
        session.add(Identity(person_id=person.id, channel="telegram", user_id="5001",
                             chat_id="5001", priority=-1))  # fmt: skip
    elsewhere = FakeChannel(clock, name="telegram")
    channels: dict[str, Channel] = {"line": s.channel, "telegram": elsewhere}
    await queue_for(s, "hanako@example.com", "お元気ですか1", OutboxKind.CHECKIN, "c1")
    await Worker(s.app, channels, sleep=VirtualSleep(clock)).run(drain=True)
    assert [x.reply.text for x in elsewhere.sent] == ["お元気ですか1"]

    profile = await s.say(HANAKO, "profile")
    assert "LINE" in profile and "Telegram" in profile
    assert "今後はまず LINE に連絡します" in await s.press(HANAKO, "LINE に連絡してほしい")
    await queue_for(s, "hanako@example.com", "お元気ですか2", OutboxKind.CHECKIN, "c2")
    await Worker(s.app, channels, sleep=VirtualSleep(clock)).run(drain=True)
    assert await pushed_texts(fake, HANAKO) == ["お元気ですか2"]
    assert len(elsewhere.sent) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_run_serves_the_webhook_on_port_for_development(
    sqlite_url: str, clock: FixedClock, fake: FakeLineAPI
) -> None:
    port = free_port()
    settings = line_settings(sqlite_url, fake, port=port)
    app = App.build(settings, clock)
    await app.prepare()
    [channel] = configured_channels(app)
    assert isinstance(channel, LineChannel)
    await channel.start()  # as `run` does: no rich menu, no webhook registration
    handling = asyncio.create_task(app.inbox.run())
    polling = asyncio.create_task(channel.poll())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            body = fake.body(fake.event_text(HANAKO, "ヘルプ", int(clock.now().timestamp() * 1000)))
            for _ in range(200):  # until uvicorn listens
                try:
                    response = await http.post(
                        "/line/webhook",
                        content=body,
                        headers={"X-Line-Signature": fake.signed(body)},
                    )
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
            assert response.status_code == 200
        await app.inbox.idle()
        assert "招待コード" in "\n".join(fake.texts(HANAKO.user_id))
        assert not fake.rich_menus
    finally:
        await channel.stop()
        await polling
        await app.inbox.stop()
        await handling
        await app.close()


async def test_when_line_cannot_be_reached_answers_wait_in_the_outbox(served: Served) -> None:
    s, fake = served, served.fake
    await fake.close()  # LINE is down: connections are refused
    with pytest.raises(TransientError):
        await s.channel.send(Recipient("line", "", HANAKO.user_id), Reply("x"))
    old = fake.event_text(HANAKO, "help", s.now_ms - 5 * 60_000)
    response = await s.post(old)
    assert response.status_code == 200
    async with s.app.db.transaction() as session:
        queued = (await session.scalars(select(OutboxMessage))).one()
    assert (queued.kind, queued.recipient, queued.state) == ("answer", HANAKO.user_id, "queued")


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8"), max_size=12_000)
    | st.sampled_from(["😀" * 5001, "あ\n" * 4000, "a " * 6000]),
    labels=st.lists(st.text(min_size=1, max_size=40), max_size=30),
)
def test_any_reply_renders_within_lines_limits(text: str, labels: list[str]) -> None:
    reply = Reply(text, tuple((Button(label, "a", str(n)),) for n, label in enumerate(labels)))
    tokens = {k: f"t{n:0>15}" for n, k in enumerate(render.button_keys(reply))}
    messages = render.render(reply, tokens)
    for n, message in enumerate(messages):
        check_message(message, n)
    actions = [a for m in messages for a in m.get("template", {}).get("actions", [])]
    actions += [i["action"] for m in messages for i in m.get("quickReply", {}).get("items", [])]
    assert len(actions) == len(labels)
    texts = [m["text"] for m in messages if m["type"] == "text"]
    shown = markup.plain(text)
    if shown.strip() and (len(labels) > render.MAX_ACTIONS or utf16_len(shown) > 160):
        assert "".join("".join(texts).split()) == "".join(shown.split())  # nothing lost
