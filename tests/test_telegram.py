"""Telegram end to end: the real `serve` app's webhook and the real polling loop against a fake
Bot API on 127.0.0.1. Every foundation route, in private chats and addressed in groups."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, func, select

from bot.channels import configured_channels
from bot.channels.telegram.channel import TelegramChannel
from bot.core.channel import RateLimited, Recipient, TransientError, Unreachable
from bot.core.clock import FixedClock
from bot.core.markup import bold
from bot.core.settings import Settings
from bot.core.types import Attachment, Button, Reply
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from bot.runtime.web import build_web_app
from storage import invites, outbox, people
from storage.models import AuditEntry, Identity, OutboxMessage, Role, RoleGrant, SurveyResponse
from tests.conftest import make_settings
from tests.fakes.fake_channel import VirtualSleep
from tests.fakes.telegram_api import BOT, TOKEN, FakeTelegramAPI, TgUser
from tests.support.people import load_company

SECRET = "s3cret-Token_1"
USERNAME = str(BOT["username"])
HANAKO = TgUser(5001, "花子", "ja")
EMMA = TgUser(5002, "Emma", "en")
SUZUKI = TgUser(5003, "鈴木", "ja")  # HR
GROUP = -1001234
STICKER: dict[str, Any] = {
    "sticker": {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1,
                "is_animated": False, "is_video": False, "type": "regular"}
}  # fmt: skip
PHOTO: dict[str, Any] = {
    "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
    "caption": "/help",
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    api = FakeTelegramAPI()
    await api.start()
    yield api
    await api.close()


def tg_settings(database_url: str, fake: FakeTelegramAPI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_url": fake.api_url,
        "telegram_webhook_secret": SECRET,
        "telegram_bot_username": USERNAME,
        **overrides,
    }
    return make_settings(database_url, **values)


@dataclass
class Served:
    """The `serve` app with its lifespan running, and a person's-eye view of the fake API."""

    app: App
    fake: FakeTelegramAPI
    client: httpx.AsyncClient
    channel: TelegramChannel

    async def post(self, update: Any, secret: str | None = SECRET) -> httpx.Response:
        """POST the webhook, then wait until what it recorded has been handled."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        response = await self.client.post("/telegram/webhook", content=body, headers=headers)
        await self.app.inbox.idle()  # handled from the inbox, after the 200
        return response

    async def deliver(self, update: dict[str, Any], chat_id: int) -> str:
        """Post an update; everything the bot sent to `chat_id` in answer, as one text."""
        before = len(self.fake.sent(chat_id))
        response = await self.post(update)
        assert response.status_code == 200, response.text
        return "\n".join(self.fake.texts(chat_id)[before:])

    async def say(self, user: TgUser, text: str) -> str:
        return await self.deliver(self.fake.private(user, text), user.id)

    async def press(self, user: TgUser, label: str, chat_id: int | None = None) -> str:
        chat = chat_id if chat_id is not None else user.id
        return await self.deliver(self.fake.press(user, self.keyboard(chat, label), label), chat)

    def keyboard(self, chat_id: int, label: str) -> dict[str, Any]:
        """The newest message in the chat that still shows a button with this label."""
        for message in sorted(
            (m for (c, _), m in self.fake.messages.items() if c == chat_id),
            key=lambda m: -int(m["message_id"]),
        ):
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            if any(label in b["text"] for row in rows for b in row):
                return message
        raise AssertionError(f"no button {label!r} in chat {chat_id}")


@asynccontextmanager
async def serving(
    settings: Settings, clock: FixedClock, fake: FakeTelegramAPI
) -> AsyncIterator[Served]:
    app = App.build(settings, clock)
    channels = configured_channels(app)
    assert [c.name for c in channels] == ["telegram"]
    channel = channels[0]
    assert isinstance(channel, TelegramChannel)
    web = build_web_app(app, channels)
    try:
        async with web.router.lifespan_context(web):
            transport = httpx.ASGITransport(app=web)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
                yield Served(app, fake, client, channel)
    finally:
        await app.close()


@pytest.fixture
async def served(
    sqlite_url: str, clock: FixedClock, fake: FakeTelegramAPI
) -> AsyncIterator[Served]:
    async with serving(tg_settings(sqlite_url, fake), clock, fake) as s:
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


async def join(s: Served, user: TgUser, email: str, *, chat_id: int | None = None) -> None:
    """Join from Telegram: the deep link's /start CODE (or /join@bot CODE in a group)."""
    code = await code_for(s.app, email)
    ja = user.language_code == "ja"
    if chat_id is None:
        assert ("同意" if ja else "agree") in await s.say(user, f"/start {code}")
    else:
        update = s.fake.group(chat_id, user, f"/join@{USERNAME} {code}")
        assert "agree" in await s.deliver(update, chat_id)
    await s.press(user, "同意する" if ja else "I agree", chat_id)
    await s.press(user, "日本語" if ja else "English", chat_id)
    done = await s.press(user, "Asia/Tokyo", chat_id)
    assert ("設定が完了しました" if ja else "All set") in done


def all_callback_data(fake: FakeTelegramAPI) -> list[str]:
    return [
        b["callback_data"]
        for m in fake.sent()
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]


# -- private chats ----------------------------------------------------------------------------


async def test_alumna_joins_by_deep_link_and_uses_every_route_in_a_private_chat(
    served: Served,
) -> None:
    s, fake = served, served.fake
    assert "招待コード" in await s.say(HANAKO, "/start")  # Start without a code: a welcome
    await join(s, HANAKO, "hanako@example.com")
    pressed = [m for m in fake.messages.values() if "✓ 同意する" in m.get("text", "")]
    assert pressed and "reply_markup" not in pressed[0]  # the keyboard is gone after a press

    assert "/profile" in await s.say(HANAKO, "/help")
    assert "営業" in await s.say(HANAKO, "/profile")

    # The profile form, one field a message, with /cancel half way.
    assert "(1/4)" in await s.press(HANAKO, "プロフィールを編集")
    assert "(2/4)" in await s.say(HANAKO, "Python; SQL")
    assert "キャンセルしました" in await s.say(HANAKO, "/cancel")
    assert "Python" not in await s.say(HANAKO, "/profile")
    await s.press(HANAKO, "プロフィールを編集")
    await s.say(HANAKO, "Python; SQL")
    await s.say(HANAKO, "マネージャー")
    assert "(4/4)" in await s.say(HANAKO, "大阪")
    saved = await s.press(HANAKO, "関心あり")
    assert "保存しました" in saved and "Python" in saved and "大阪" in saved

    settings = await s.say(HANAKO, "/settings")
    assert "チェックイン" in settings or "オン" in settings
    toggled = await s.press(HANAKO, "をオフ")
    assert "オフ" in toggled
    assert "一時停止" in await s.say(HANAKO, "/pause")

    before = len(fake.calls_to("sendDocument"))
    assert "データ" in await s.say(HANAKO, "/mydata")
    document = fake.calls_to("sendDocument")[before:]
    assert len(document) == 1 and "山田 花子" in document[0].files["document"].decode()

    assert "削除" in await s.say(HANAKO, "/forgetme")
    assert "何も削除していません" in await s.press(HANAKO, "削除しない")

    # Every button the handlers emitted fit Telegram's 64 bytes, and every press was answered.
    assert all(len(d.encode()) <= 64 for d in all_callback_data(fake))
    assert not fake.open_queries
    assert len(fake.calls_to("answerCallbackQuery")) >= 8


async def test_hr_invites_from_telegram_with_a_deep_link(served: Served) -> None:
    await join(served, SUZUKI, "hr@example.com")
    answer = await served.say(SUZUKI, "/invite emma@example.com")
    assert f"https://t.me/{USERNAME}?start=" in answer
    code = answer.rsplit("start=", 1)[1].split()[0]
    assert "agree" in await served.say(EMMA, f"/start {code}")


async def test_language_follows_telegram_until_the_person_chooses(served: Served) -> None:
    assert "Welcome" in await served.say(EMMA, "/help")
    assert "ようこそ" in await served.say(HANAKO, "/help")


# -- groups -----------------------------------------------------------------------------------


async def test_in_a_group_only_commands_addressed_to_the_bot_are_answered(served: Served) -> None:
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    for text in ("/help", "/help@some_other_bot", "hello everyone", "/pause"):
        assert await s.deliver(fake.group(GROUP, HANAKO, text), GROUP) == ""
    assert "/profile" in await s.deliver(fake.group(GROUP, HANAKO, f"/help@{USERNAME}"), GROUP)
    ours = fake.last_message(GROUP)
    # A reply to the bot is addressed to it, even without @.
    answer = await s.deliver(fake.group(GROUP, HANAKO, "/pause", reply_to=ours), GROUP)
    assert "一時停止" in answer


@pytest.mark.parametrize(
    ("command", "private_only"),
    [
        ("help", False),
        ("profile", True),
        ("settings", True),
        ("pause", False),
        ("mydata", True),
        ("forgetme", False),
        ("invite uses=5", False),
    ],
)
async def test_every_route_is_reachable_addressed_in_a_group(
    served: Served, command: str, private_only: bool
) -> None:
    s, fake = served, served.fake
    await join(s, SUZUKI, "hr@example.com")
    name, _, args = command.partition(" ")
    before = len(fake.sent(SUZUKI.id))
    update = fake.group(GROUP, SUZUKI, f"/{name}@{USERNAME} {args}".strip())
    in_group = await s.deliver(update, GROUP)
    privately = fake.sent(SUZUKI.id)[before:]
    if private_only:
        assert in_group == "個別メッセージでお送りしました。"
        assert privately  # personal data only ever in the private chat
    else:
        assert in_group and "申し訳" not in in_group and not privately


async def test_in_a_group_a_button_acts_only_for_the_person_it_was_shown_to(
    served: Served,
) -> None:
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    await join(s, EMMA, "emma@example.com")
    asked = await s.deliver(fake.group(GROUP, HANAKO, f"/survey@{USERNAME}"), GROUP)
    assert asked
    refused = await s.press(EMMA, "5", chat_id=GROUP)
    assert "meant for someone else" in refused  # in Emma's language
    async with s.app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(SurveyResponse)) == 0
        entry = (await session.scalars(select(AuditEntry).where(~AuditEntry.allowed))).one()
        emma = await people.person_by_email(session, "emma@example.com")
        assert emma is not None and entry.actor_id == emma.id
        assert (entry.target, entry.detail["reason"]) == ("survey.answer", "not_shown_to")
    # Hanako's keyboard is still there, and her own press goes on to the next question.
    assert "5" in json.dumps(s.keyboard(GROUP, "5")["reply_markup"])
    assert "別の方" not in await s.press(HANAKO, "5", chat_id=GROUP)


async def test_join_in_a_group_and_personal_data_needs_a_private_chat(served: Served) -> None:
    s, fake = served, served.fake
    await join(s, EMMA, "emma@example.com", chat_id=GROUP)
    answer = await s.deliver(fake.group(GROUP, EMMA, f"/mydata@{USERNAME}"), GROUP)
    assert f"https://t.me/{USERNAME}" in answer and "Start" in answer
    # Nothing personal went to the group; the private attempt was refused (never started).
    assert [c.params["chat_id"] for c in fake.calls_to("sendDocument")] == [EMMA.id]
    assert not [m for m in fake.messages.values() if "document" in m]


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET.upper()])
async def test_webhook_refuses_a_wrong_or_missing_secret(
    served: Served, secret: str | None
) -> None:
    update = served.fake.private(HANAKO, "/help")
    response = await served.post(update, secret=secret)
    assert response.status_code == 403
    assert not served.fake.sent()
    # Nothing was processed or recorded: the genuine delivery of that update is answered.
    assert "ようこそ" in await served.deliver(update, HANAKO.id)


async def test_without_a_configured_secret_the_webhook_refuses_everything(
    sqlite_url: str, clock: FixedClock, fake: FakeTelegramAPI
) -> None:
    settings = tg_settings(sqlite_url, fake, telegram_webhook_secret=None)
    async with serving(settings, clock, fake) as s:
        for secret in (None, "", SECRET):
            assert (await s.post(fake.private(HANAKO, "/help"), secret=secret)).status_code == 403
    assert not fake.sent()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[1, 2]", 400),
        (b'{"message": {}}', 400),
        (b'{"update_id": 5, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),  # nested
        (b'{"update_id": 1, "message_reaction": {"chat": {"id": 1}}}', 200),
        (b'{"update_id": 2, "poll": {"id": "p"}}', 200),
        (b'{"update_id": 3, "message": "not an object"}', 200),
        (b'{"update_id": 4, "some_future_update": {"x": 1}}', 200),
    ],
)
async def test_malformed_and_unknown_updates_are_never_an_error(
    served: Served, body: bytes, status: int
) -> None:
    response = await served.post(body)
    assert response.status_code == status
    assert not served.fake.sent()


async def test_stickers_photos_and_edits(served: Served) -> None:
    s, fake = served, served.fake
    assert "テキストのみ" in await s.deliver(fake.private(HANAKO, **STICKER), HANAKO.id)
    assert "text" in await s.deliver(fake.private(EMMA, **PHOTO), EMMA.id)
    edited = fake.private(HANAKO, "/forgetme")
    edited["edited_message"] = edited.pop("message")
    assert "編集" in await s.deliver(edited, HANAKO.id)
    # In a group, none of this was meant for the bot.
    group_edit = fake.group(GROUP, HANAKO, f"/help@{USERNAME}")
    group_edit["edited_message"] = group_edit.pop("message")
    assert await s.deliver(group_edit, GROUP) == ""
    assert not [t for t in fake.texts(GROUP) if t]


async def test_a_sticker_in_the_middle_of_a_form_keeps_the_form(served: Served) -> None:
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    await s.say(HANAKO, "/profile")
    await s.press(HANAKO, "プロフィールを編集")
    assert "テキストのみ" in await s.deliver(fake.private(HANAKO, **STICKER), HANAKO.id)
    assert "(2/4)" in await s.say(HANAKO, "Go")


async def test_a_10000_character_message_gets_one_clear_answer(served: Served) -> None:
    answer = await served.say(HANAKO, "あ" * 10_000)
    assert "長すぎます" in answer
    answer = await served.say(EMMA, "/join " + "A" * 10_000)
    assert "too long" in answer


async def test_forged_and_stale_buttons_have_expired(served: Served, clock: FixedClock) -> None:
    s, fake = served, served.fake
    for data in ("forged", "x" * 64, "日本語のボタン", ""):
        answer = await s.deliver(fake.callback(HANAKO, None, data), HANAKO.id)
        assert "有効期限" in answer
    prompt = await s.say(EMMA, f"/start {await code_for(s.app, 'emma@example.com')}")
    assert "agree" in prompt
    clock.advance(days=31)
    assert "expired" in await s.press(EMMA, "I agree")
    assert not fake.open_queries  # every callback query was answered


@pytest.mark.parametrize("concurrently", [False, True])
async def test_a_duplicated_update_is_processed_once(served: Served, concurrently: bool) -> None:
    update = served.fake.private(HANAKO, "/help")
    if concurrently:
        responses = await asyncio.gather(*(served.post(update) for _ in range(5)))
    else:
        responses = [await served.post(update) for _ in range(3)]
    assert {r.status_code for r in responses} == {200}
    assert len(served.fake.sent(HANAKO.id)) == 1


# -- serve: registration, restarts ------------------------------------------------------------


async def test_serve_registers_the_webhook_and_the_command_menus(
    sqlite_url: str, clock: FixedClock, fake: FakeTelegramAPI
) -> None:
    settings = tg_settings(sqlite_url, fake, public_url="https://bot.example.com/")
    async with serving(settings, clock, fake) as s:
        assert fake.calls[0].method == "getMe"
        assert fake.webhook is not None
        assert fake.webhook["url"] == "https://bot.example.com/telegram/webhook"
        assert fake.webhook["secret_token"] == SECRET
        routes = {r.command for r in s.app.dispatcher.router.routes if r.command}
        assert set(fake.commands) == {"ja", "en", None}
        menus = {lang: {c["command"]: c["description"] for c in cmds}
                 for lang, cmds in fake.commands.items()}  # fmt: skip
        assert set(menus["ja"]) <= routes and {"help", "join", "profile"} <= set(menus["ja"])
        assert "start" not in menus["en"] and "invite" not in menus["en"]
        assert menus["ja"]["help"] == s.app.catalogs.text("ja", "help.cmd.help")
        assert menus["en"]["help"] == s.app.catalogs.text("en", "help.cmd.help")
        assert menus[None] == menus["ja"]  # the default language for everyone else


async def test_hr_and_admins_get_their_commands_in_their_own_menu(served: Served) -> None:
    s, fake = served, served.fake
    await join(s, SUZUKI, "hr@example.com")
    await join(s, HANAKO, "hanako@example.com")
    hr_menu = {c["command"]: c["description"] for c in fake.chat_commands[SUZUKI.id]}
    assert {"broadcast", "invite", "postjob", "stats", "profile"} <= set(hr_menu)
    assert "audit" not in hr_menu and "join" not in hr_menu  # admin's; already joined
    assert hr_menu["broadcast"] == s.app.catalogs.text("ja", "help.cmd.broadcast")
    assert HANAKO.id not in fake.chat_commands  # alumni use everyone's menu

    async with s.app.db.transaction() as session:  # hanako becomes an admin...
        hanako = await people.person_by_email(session, "hanako@example.com")
        assert hanako is not None
        await people.grant(session, hanako, Role.ADMIN, None, s.app.clock.now())
    await s.say(HANAKO, "/help")
    assert "audit" in {c["command"] for c in fake.chat_commands[HANAKO.id]}
    async with s.app.db.transaction() as session:  # ...and is one no longer
        await session.execute(delete(RoleGrant).where(RoleGrant.person_id == hanako.id))
    await s.say(HANAKO, "/help")
    assert HANAKO.id not in fake.chat_commands


async def test_a_restart_sets_the_menus_of_hr_again(
    sqlite_url: str, clock: FixedClock, fake: FakeTelegramAPI
) -> None:
    async with serving(tg_settings(sqlite_url, fake), clock, fake) as s:
        await load_company(s.app)
        await join(s, SUZUKI, "hr@example.com")
    fake.chat_commands.clear()  # as if set by another deployment, or lost
    async with serving(tg_settings(sqlite_url, fake), clock, fake):
        assert "broadcast" in {c["command"] for c in fake.chat_commands[SUZUKI.id]}


async def test_run_does_not_register_a_webhook(
    sqlite_url: str, clock: FixedClock, fake: FakeTelegramAPI
) -> None:
    app = App.build(tg_settings(sqlite_url, fake, public_url="https://bot.example.com"), clock)
    channel = TelegramChannel(app)
    await channel.start()
    await channel.stop()
    await app.close()
    assert fake.webhook is None and not fake.calls_to("setWebhook")


async def test_a_form_resumes_after_a_restart(
    database_url: str, clock: FixedClock, fake: FakeTelegramAPI
) -> None:
    settings = tg_settings(database_url, fake)
    async with serving(settings, clock, fake) as s:
        await load_company(s.app)
        await join(s, HANAKO, "hanako@example.com")
        await s.say(HANAKO, "/profile")
        await s.press(HANAKO, "プロフィールを編集")
        assert "(2/4)" in await s.say(HANAKO, "Go; Rust")
    async with serving(settings, clock, fake) as s:  # a new process: nothing in memory
        assert "(3/4)" in await s.say(HANAKO, "-")
        await s.say(HANAKO, "福岡")
        saved = await s.press(HANAKO, "良い機会があれば")
        assert "Go" in saved and "Rust" in saved and "福岡" in saved


# -- polling (run) ----------------------------------------------------------------------------


async def test_long_polling_answers_messages_and_buttons(
    sqlite_url: str, clock: FixedClock, fake: FakeTelegramAPI
) -> None:
    app = App.build(tg_settings(sqlite_url, fake), clock)
    await load_company(app)
    fake.webhook = {"url": "https://old.example.com/telegram/webhook"}  # left by production
    channel = TelegramChannel(app, poll_timeout=5)
    await channel.start()
    polling = asyncio.create_task(channel.poll())
    handling = asyncio.create_task(app.inbox.run())
    try:
        start = fake.private(EMMA, f"/start {await code_for(app, 'emma@example.com')}")
        fake.push(start)
        fake.push(start)  # delivered twice: answered once
        await fake.wait_for(lambda: len(fake.sent(EMMA.id)) >= 1)
        prompt = fake.last_message(EMMA.id)
        assert "agree" in prompt["text"]
        fake.push(fake.press(EMMA, prompt, "I agree"))
        await fake.wait_for(lambda: len(fake.sent(EMMA.id)) >= 2)
        assert "language" in fake.last_message(EMMA.id)["text"].lower()
        fake.push(fake.private(EMMA, "/help"))
        await fake.wait_for(lambda: len(fake.sent(EMMA.id)) >= 3)
    finally:
        polling.cancel()
        with pytest.raises(asyncio.CancelledError):
            await polling
        await app.inbox.stop()
        await handling
        await channel.stop()
        await app.close()
    assert fake.calls_to("deleteWebhook") and fake.webhook is None
    assert len(fake.sent(EMMA.id)) == 3 and not fake.open_queries
    offsets = [c.params.get("offset") for c in fake.calls_to("getUpdates")]
    assert offsets[0] is None and offsets[-1] is not None  # updates were confirmed


@pytest.mark.parametrize(("code", "retry_after"), [(502, None), (429, 40)])
async def test_an_answer_that_fails_to_send_goes_to_the_outbox_and_arrives(
    served: Served, clock: FixedClock, code: int, retry_after: int | None
) -> None:
    s, fake = served, served.fake

    def arrived() -> list[str]:
        return [str(m.get("text")) for (chat, _), m in fake.messages.items() if chat == HANAKO.id]

    await s.say(HANAKO, "/help")
    expected = arrived()
    fake.fail_next("sendMessage", code, retry_after=retry_after)
    await s.say(HANAKO, "/help")
    assert arrived() == expected  # the send failed: nothing arrived yet
    async with s.app.db.transaction() as session:
        queued = (await session.scalars(select(OutboxMessage))).one()
    assert (queued.kind, queued.recipient, queued.urgent) == ("answer", str(HANAKO.id), True)
    assert queued.not_before == clock.now() + timedelta(seconds=retry_after or 0)
    clock.advance(seconds=retry_after or 0)
    worker = Worker(s.app, {"telegram": s.channel}, sleep=VirtualSleep(clock))
    assert (await worker.run(drain=True)).sent == 1
    assert arrived() == expected * 2  # the same answer, in the same chat


async def test_the_worker_issues_a_batchs_button_tokens_at_once_and_each_works(
    served: Served, clock: FixedClock
) -> None:
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    async with s.app.db.transaction() as session:
        person = await people.person_by_email(session, "hanako@example.com")
        assert person is not None
        for n in range(3):
            notice = Reply(
                f"notice {n}.", buttons=((Button("English", "onboarding.locale", "en"),),)
            )
            await outbox.enqueue(session, person_id=person.id, reply=notice, key=f"n{n}",
                                 kind="notice", now=clock.now())  # fmt: skip
    inserts: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO BUTTON_TOKENS"):
            inserts.append(statement)

    engine = s.app.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        worker = Worker(s.app, {"telegram": s.channel}, sleep=VirtualSleep(clock))
        assert (await worker.run(drain=True)).sent == 3
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(inserts) == 1  # one batch, one write of its tokens: not one a message
    notices = [m for m in fake.sent(HANAKO.id) if "notice " in str(m.get("text"))]
    data = {b["callback_data"] for m in notices for b in m["reply_markup"]["inline_keyboard"][0]}
    assert len(notices) == len(data) == 3  # a token of its own for each message
    # A notice's button acts for her: she chose English, and the bot goes on in English.
    assert "time zone" in await s.press(HANAKO, "English")


async def test_when_the_batchs_tokens_cannot_be_issued_ahead_each_send_issues_its_own(
    served: Served,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = served
    await join(s, HANAKO, "hanako@example.com")

    async def broken(*args: Any) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(s.channel.ahead, "issue", broken)
    async with s.app.db.transaction() as session:
        person = await people.person_by_email(session, "hanako@example.com")
        assert person is not None
        notice = Reply("notice.", buttons=((Button("English", "onboarding.locale", "en"),),))
        await outbox.enqueue(session, person_id=person.id, reply=notice, key="n",
                             kind="notice", now=clock.now())  # fmt: skip
    worker = Worker(s.app, {"telegram": s.channel}, sleep=VirtualSleep(clock))
    assert (await worker.run(drain=True)).sent == 1
    assert "preparing 1 telegram messages" in caplog.text  # logged, and only slower
    assert "time zone" in await s.press(HANAKO, "English")


# -- delivery (send) --------------------------------------------------------------------------


async def test_send_maps_telegram_failures_for_the_delivery_worker(served: Served) -> None:
    s, fake = served, served.fake
    fake.started.add(HANAKO.id)
    fake.blocked.add(EMMA.id)
    fake.seen_users.add(SUZUKI.id)
    reply = Reply("hello")
    assert await s.channel.send(Recipient("telegram", "", str(HANAKO.id)), reply) == "5001"

    fake.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RateLimited) as limited:
        await s.channel.send(Recipient("telegram", "", str(HANAKO.id)), reply)
    assert limited.value.retry_after == 7 and limited.value.scope == "channel"
    fake.groups[GROUP] = "group"
    fake.fail_next("sendMessage", 429, retry_after=30)
    with pytest.raises(RateLimited) as limited:
        await s.channel.send(Recipient("telegram", "", "x", chat_id=str(GROUP)), reply)
    assert limited.value.scope == "chat"

    for user_id in (EMMA.id, SUZUKI.id, 424242, "not-a-number"):  # blocked, never started…
        with pytest.raises(Unreachable):
            await s.channel.send(Recipient("telegram", "", str(user_id)), reply)
    fake.fail_next("sendMessage", 502)
    with pytest.raises(TransientError):
        await s.channel.send(Recipient("telegram", "", str(HANAKO.id)), reply)


async def test_long_replies_are_split_and_files_are_sent_as_files(served: Served) -> None:
    s, fake = served, served.fake
    fake.started.add(EMMA.id)
    to = Recipient("telegram", "", str(EMMA.id))
    text = "\n".join(f"line {i}: " + "word " * 30 for i in range(70))  # about 11,000 chars
    await s.channel.send(to, Reply(text, buttons=((Button("OK", "help"),),)))
    sent = fake.sent(EMMA.id)
    assert len(sent) == 3 and all(len(m["text"]) <= 4096 for m in sent)
    assert [("reply_markup" in m) for m in sent] == [False, False, True]
    assert "".join(m["text"] for m in sent).replace("\n", "") == text.replace("\n", "")

    png = Attachment("chart.png", b"\x89PNG fake", "image/png", is_image=True)
    await s.channel.send(to, Reply(bold("Chart"), attachment=png))
    photo = fake.calls_to("sendPhoto")[-1]
    assert photo.params["caption"] == "Chart" and photo.files["photo"] == b"\x89PNG fake"
    assert photo.params["caption_entities"] == [{"type": "bold", "offset": 0, "length": 5}]
    csv = Attachment("x.csv", b"a,b\n", "text/csv")
    await s.channel.send(to, Reply("x" * 2000, attachment=csv))
    assert fake.calls_to("sendDocument")[-1].files["document"] == b"a,b\n"
    assert fake.sent(EMMA.id)[-2]["text"] == "x" * 2000  # too long for a caption: sent first


async def test_broken_text_from_the_client_never_breaks_a_person(
    database_url: str, clock: FixedClock, fake: FakeTelegramAPI
) -> None:
    """A lone surrogate or a NUL in a name or a message (a client can send both) is cleaned at
    the boundary: the person joins, and `mydata` and `profile` still answer, on both databases."""
    broken = TgUser(5099, "Ha\ud800na\x00ko", "ja", last_name="\x00\udfff")
    async with serving(tg_settings(database_url, fake), clock, fake) as s:
        await load_company(s.app)
        await join(s, broken, "hanako@example.com")
        assert "\x00" not in await s.say(broken, "/log\x00 taro\ud800")
        before = len(fake.sent(broken.id))
        await s.say(broken, "/mydata")
        assert [m for m in fake.sent(broken.id)[before:] if m["method"] == "sendDocument"]
        profile = await s.say(broken, "/profile")
        assert "山田 花子" in profile
        async with s.app.db.sessions() as session:
            names = await session.scalars(select(Identity.display_name))
            assert all("\x00" not in n and "\ud800" not in n for n in names if n)


async def test_asterisks_people_type_are_shown_as_typed(served: Served) -> None:
    """Skills such as `C*` and `*nix` stay as typed: only the bot's own titles are bold."""
    s, fake = served, served.fake
    await join(s, HANAKO, "hanako@example.com")
    await s.say(HANAKO, "/profile")
    await s.press(HANAKO, "プロフィールを編集")
    await s.say(HANAKO, "C*; *nix; Go*")
    await s.say(HANAKO, "マネージャー")
    await s.say(HANAKO, "大阪")
    saved = await s.press(HANAKO, "関心あり")
    assert "C*" in saved and "*nix" in saved and "Go*" in saved
    message = fake.sent(HANAKO.id)[-1]
    bolded = [message["text"][e["offset"] : e["offset"] + e["length"]]
              for e in message.get("entities") or [] if e["type"] == "bold"]  # fmt: skip
    assert not any("nix" in b for b in bolded)
