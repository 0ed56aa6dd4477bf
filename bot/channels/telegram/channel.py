"""Telegram on python-telegram-bot 22: the webhook inside `serve`, long polling for `run`.

PTB is used for HTTP and for parsing updates only. Every update goes through our `Dispatcher`
(forms keep their state in the database, not in PTB's in-memory ConversationHandler), so any
`serve` process can take any update. An update is recorded in the inbox (bot/runtime/inbox.py)
before Telegram gets its 200, and handled from there: a crash means it is handled again, and
an `update_id` recorded before (Telegram's retry) is dropped. No feature logic here: this module
maps updates to `Incoming`, renders `Reply` (telegram_render) and decides only what is
Telegram's business — groups, private chats, acknowledging button presses."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import CallbackQuery, Message, Update, User
from telegram.constants import ChatType
from telegram.error import BadRequest, ChatMigrated, Conflict, InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ExtBot

from bot.channels.telegram import render, send
from bot.channels.telegram.menu import Menus
from bot.core.channel import DeliveryError, RateLimited, Recipient, Unreachable
from bot.core.i18n import pick_locale
from bot.core.types import Actor, Incoming, Reply
from bot.core.utf16 import utf16_len
from bot.runtime.app import App
from storage import buttons as store
from storage import identities, inbox, outbox

log = logging.getLogger(__name__)

NAME = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
MAX_BODY = 1_000_000  # a Telegram update is a few kilobytes
# A button whose token is unknown or stale is dispatched as this action, which has no route:
# the dispatcher answers "this button has expired" in the person's own language.
EXPIRED_ACTION = "telegram.expired"

UPDATES = Counter("alumni_bot_telegram_updates", "Telegram updates received", ["kind"])


def _file_url(api_url: str) -> str:
    """`https://api.telegram.org/bot` → `https://api.telegram.org/file/bot` (any host)."""
    head, sep, tail = api_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}" if sep else api_url + "/file"


class TelegramChannel:
    name = NAME

    def __init__(self, app: App, *, poll_timeout: int = 25) -> None:
        token = app.settings.telegram_bot_token
        if not token:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.app = app
        self.secret = app.settings.telegram_webhook_secret or ""
        self.poll_timeout = poll_timeout
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(app.settings.telegram_api_url)
            .base_file_url(_file_url(app.settings.telegram_api_url))
            .updater(None)  # webhook: our Starlette app; polling: poll() below
            .job_queue(None)  # scheduled work lives in our tables, not in PTB
            .connection_pool_size(64)
            .build()
        )
        self.username = app.settings.telegram_bot_username
        self.menus = Menus(app, self.bot)
        self.ahead = store.Ahead()  # button tokens of the worker's claimed batch

    @property
    def bot(self) -> ExtBot[None]:
        bot: ExtBot[None] = self.application.bot
        return bot

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, *, webhooks: bool = False) -> None:
        await self.application.initialize()  # getMe: a wrong token fails here, at start-up
        self.username = self.bot.username or self.username
        await store.forget_old(self.app.db, self.app.clock.now())
        await self.menus.start()
        self.app.inbox.register(NAME, self.handle)
        if webhooks:
            if not self.secret:
                log.error("TELEGRAM_WEBHOOK_SECRET is not set: every webhook update is refused")
            public_url = self.app.settings.public_url.rstrip("/")
            if public_url:
                if not self.secret:
                    raise RuntimeError("set TELEGRAM_WEBHOOK_SECRET before registering a webhook")
                await self.bot.set_webhook(
                    public_url + WEBHOOK_PATH,
                    secret_token=self.secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
                log.info("telegram webhook registered at %s%s", public_url, WEBHOOK_PATH)

    async def stop(self) -> None:
        await self.application.shutdown()

    # -- webhook (serve) -----------------------------------------------------------------------

    def web_routes(self) -> list[BaseRoute]:
        return [Route(WEBHOOK_PATH, self.webhook, methods=["POST"])]

    async def webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self.secret or not hmac.compare_digest(given.encode(), self.secret.encode()):
            UPDATES.labels("refused").inc()
            return JSONResponse({"error": "forbidden"}, 403)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "too large"}, 413)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, nested beyond reason
            return JSONResponse({"error": "malformed JSON"}, 400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return JSONResponse({"error": "not an update"}, 400)
        try:
            update = Update.de_json(data, self.bot)
        except Exception:  # Telegram retries non-2xx forever: take it, log it, move on
            log.warning("unparsable telegram update %s", data.get("update_id"), exc_info=True)
            return JSONResponse({"ok": True})
        try:
            await self.record(update)
        except Exception:  # not recorded, so not acknowledged: Telegram sends it again
            log.exception("telegram update %s could not be recorded", update.update_id)
            return JSONResponse({"error": "try again"}, 503)
        return JSONResponse({"ok": True})

    async def record(self, update: Update) -> None:
        """Into the inbox; one chat's updates are handled in order."""
        chat, user = update.effective_chat, update.effective_user
        if chat is not None and chat.type != ChatType.PRIVATE:
            conversation = f"chat:{chat.id}"
        elif user is not None:
            conversation = inbox.private_conversation("", str(user.id))
        else:
            conversation = f"update:{update.update_id}"
        body = update.to_dict()
        if not await self.app.inbox.record(NAME, str(update.update_id), conversation, body):
            UPDATES.labels("duplicate").inc()

    async def handle(self, body: dict[str, Any]) -> None:
        """An update from the inbox."""
        await self.process(Update.de_json(body, self.bot))

    # -- long polling (run) --------------------------------------------------------------------

    async def poll(self) -> None:
        """getUpdates until cancelled (one consumer per token: deleteWebhook first)."""
        await self.bot.delete_webhook()
        offset: int | None = None
        backoff = 1.0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES
                )
            except InvalidToken:
                raise
            except (Conflict, TelegramError) as exc:
                log.warning("telegram getUpdates failed (retrying in %.0fs): %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            for update in updates:
                try:
                    await self.record(update)
                except Exception:  # asked for again from this offset
                    log.exception("telegram update %s could not be recorded", update.update_id)
                    await asyncio.sleep(backoff)
                    break
                offset = update.update_id + 1

    # -- one update ----------------------------------------------------------------------------

    async def process(self, update: Update) -> None:
        """Handle one update; never raises (a failure is logged with its context)."""
        try:
            if update.callback_query is not None:
                UPDATES.labels("callback_query").inc()
                await self._on_callback(update.callback_query, update.update_id)
            elif update.message is not None:
                UPDATES.labels("message").inc()
                await self._on_message(update.message, update.update_id)
            elif update.edited_message is not None:
                UPDATES.labels("edited_message").inc()
                await self._on_edited(update.edited_message)
            else:
                UPDATES.labels("other").inc()  # member changes, polls, … : nothing to say
        except Exception:
            log.exception("telegram update %s failed", update.update_id)

    @staticmethod
    def _actor(user: User) -> Actor:
        return Actor(NAME, str(user.id), "", user.full_name, user.language_code)

    def _addressed(self, message: Message, text: str) -> bool:
        """In a group: `/cmd@thisbot …`, or a reply to one of our messages."""
        words = text.split(maxsplit=1)
        if words and words[0].startswith("/"):
            _, at, target = words[0].partition("@")
            if at:
                return bool(self.username) and target.lower() == self.username.lower()
        replied = message.reply_to_message
        return (
            replied is not None
            and replied.from_user is not None
            and (replied.from_user.id == self.bot.id)
        )

    async def _on_message(self, message: Message, update_id: int) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        private = message.chat.type == ChatType.PRIVATE
        if message.text is None:
            # A sticker, a photo, a voice note…: the bot reads text only. Said once in a private
            # chat; in a group it was not meant for us.
            if private and message.effective_attachment is not None:
                await self._say(message.chat.id, user, "telegram.text_only")
            return
        text = message.text
        if not private and not self._addressed(message, text):
            return
        first, _, rest = text.partition(" ")
        if first.split("@")[0].lower() == "/start" and not rest.strip():
            # Start without a deep-link code: say hello (help), not "join needs a code".
            incoming = Incoming(
                self._actor(user), str(message.chat.id), command="help", private=private
            )
        else:
            incoming = Incoming(
                self._actor(user),
                str(message.chat.id),
                text=text,
                private=private,
                event_id=str(update_id),
            )
        replies = await self.app.dispatcher.dispatch(incoming)
        await self._answer(message.chat.id, user, replies, private, message.message_id, update_id)
        if private:
            await self.menus.refresh(user.id)

    async def _on_edited(self, message: Message) -> None:
        # Acting on an edit would run a command twice; in a private chat, say so kindly.
        user = message.from_user
        if user is not None and not user.is_bot and message.chat.type == ChatType.PRIVATE:
            await self._say(message.chat.id, user, "telegram.edited")

    async def _on_callback(self, query: CallbackQuery, update_id: int) -> None:
        # Callback queries must be answered, even with nothing to show, or the button spins.
        try:
            await query.answer()
        except TelegramError as exc:
            log.info("answerCallbackQuery failed: %s", exc)
        user = query.from_user
        message = query.message
        chat_id = message.chat.id if message is not None else user.id
        private = message is None or message.chat.type == ChatType.PRIVATE
        pressed = await store.resolve(self.app.db, query.data or "", self.app.clock.now())
        if pressed is None:
            pressed = store.Pressed(EXPIRED_ACTION, "", str(user.id))
        elif pressed.owner is None or pressed.owner == str(user.id):
            await self._mark_pressed(query)  # someone else's press leaves their keyboard be
        incoming = Incoming(
            self._actor(user),
            str(chat_id),
            action=pressed.action,
            payload=pressed.payload,
            private=private,
            event_id=str(update_id),
            shown_to=pressed.owner,
        )
        replies = await self.app.dispatcher.dispatch(incoming)
        await self._answer(chat_id, user, replies, private, None, update_id)
        if private:
            await self.menus.refresh(user.id)

    async def _mark_pressed(self, query: CallbackQuery) -> None:
        """Take the keyboard off the pressed message (no double presses of a stale button) and
        note which button was pressed, so the chat reads as a conversation."""
        message = query.message
        if not isinstance(message, Message) or message.reply_markup is None:
            return
        pressed = next(
            (
                b.text
                for row in message.reply_markup.inline_keyboard
                for b in row
                if b.callback_data == query.data
            ),
            None,
        )
        try:
            if message.text and pressed:
                text = f"{message.text}\n\n✓ {pressed}"
                if utf16_len(text) <= render.MAX_TEXT:
                    await message.edit_text(text, entities=message.entities)
                    return
            await message.edit_reply_markup(reply_markup=None)
        except TelegramError as exc:  # too old, already edited: the press still counts
            log.debug("could not mark a pressed button: %s", exc)

    # -- answering -----------------------------------------------------------------------------

    async def _answer(
        self,
        chat_id: int,
        user: User,
        replies: list[Reply],
        private: bool,
        reply_to: int | None,
        update_id: int,
    ) -> None:
        """Send replies where they belong: personal data only ever in the private chat. An
        answer whose send fails for a while (timeout, 5xx, 429) goes to the outbox, and so do
        the ones after it (in order): the worker retries them; nothing is dropped."""
        sent_privately = blocked = deferred = False
        for n, reply in enumerate(replies):
            personal = reply.private_only and not private
            target = user.id if personal else chat_id
            key = f"answer:{NAME}:{update_id}:{n}"
            if deferred:
                await self._later(target, reply, user, key, None)
                sent_privately |= personal
                continue
            try:
                await self._send_retrying(target, reply, user, None if personal else reply_to)
                sent_privately |= personal
            except TelegramError as exc:
                error = send.delivery_error(exc, target)
                if isinstance(error, Unreachable):  # never pressed Start, or blocked the bot
                    blocked |= personal
                    log.warning("reply to chat %s failed: %s", target, exc)
                elif isinstance(exc, BadRequest | InvalidToken):
                    pass  # logged by delivery_error: our bug, which a retry would not mend
                else:
                    deferred = True
                    await self._later(target, reply, user, key, error)
                    sent_privately |= personal
            if not personal:
                reply_to = None
        if blocked:
            link = f"https://t.me/{self.username}" if self.username else "Telegram"
            await self._say(chat_id, user, "telegram.start_privately", link=link)
        elif sent_privately:
            await self._say(chat_id, user, "error.private_sent")

    async def _later(
        self, chat_id: int, reply: Reply, user: User, key: str, error: DeliveryError | None
    ) -> None:
        now = self.app.clock.now()
        wait = error.retry_after if isinstance(error, RateLimited) else 0.0
        queued = await outbox.enqueue_answer(
            self.app.db, channel=NAME, workspace="", user_id=str(user.id), chat_id=str(chat_id),
            reply=reply, key=key, now=now, not_before=now + timedelta(seconds=wait),
        )  # fmt: skip
        log.warning("reply to chat %s deferred to the outbox (%s)%s", chat_id, error or "in order",
                    "" if queued else ": already there")  # fmt: skip

    async def _say(self, chat_id: int, user: User, key: str, **params: Any) -> None:
        """A channel-level message in the person's language (chosen in the bot, else Telegram's)."""
        async with self.app.db.sessions() as session:
            chosen = await identities.chosen_locale(session, NAME, str(user.id))
        locale = pick_locale(chosen, user.language_code, self.app.settings.default_locale)
        try:
            reply = Reply(self.app.catalogs.text(locale, key, **params))
            await self.deliver(chat_id, reply, str(user.id))
        except TelegramError as exc:
            log.warning("telegram message to chat %s failed: %s", chat_id, exc)

    async def _send_retrying(
        self, chat_id: int, reply: Reply, user: User, reply_to: int | None
    ) -> None:
        await send.deliver_retrying(self.bot, self.app, chat_id, reply, str(user.id), reply_to)

    async def deliver(
        self,
        chat_id: int,
        reply: Reply,
        owner: str | None,
        reply_to: int | None = None,
        tokens: store.Keys | None = None,
    ) -> None:
        await send.deliver(self.bot, self.app, chat_id, reply, owner, reply_to, tokens)

    # -- delivery (worker) ---------------------------------------------------------------------

    async def prepare(self, batch: Sequence[tuple[Recipient, Reply]]) -> None:
        """The button tokens of a claimed batch, in one transaction."""
        wanted = [(to.message_key, render.button_keys(r), to.user_id) for to, r in batch
                  if to.message_key]  # fmt: skip
        await self.ahead.issue(self.app.db, wanted, self.app.clock.now())

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        """A proactive message; its private chat id is the user id."""
        try:
            chat_id = int(to.chat_id or to.user_id)
        except ValueError:
            raise Unreachable(f"not a telegram chat id: {to.chat_id or to.user_id!r}") from None
        tokens = self.ahead.take(to.message_key, render.button_keys(reply), to.user_id)
        try:
            try:
                await self.deliver(chat_id, reply, to.user_id, tokens=tokens)
            except ChatMigrated as exc:  # a group became a supergroup: its id changed
                chat_id = exc.new_chat_id
                await self.deliver(chat_id, reply, to.user_id, tokens=tokens)
        except TelegramError as exc:
            raise send.delivery_error(exc, chat_id) from exc
        return str(chat_id)
