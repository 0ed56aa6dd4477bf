"""LINE on line-bot-sdk v3 (async client): the webhook inside `serve`, pushes for the worker.

Every webhook event is recorded in the inbox (bot/runtime/inbox.py) under its `webhookEventId`
before LINE gets its 200, and handled from there: a crash means it is handled again, and a
redelivery of a recorded event is dropped. An event is answered with its reply token while the
token is fresh (replies are free); later, or for what does not fit in one reply, by push with
an `X-Line-Retry-Key` (bot/channels/line/send.py). No feature logic here: events become
`Incoming`, `Reply` is rendered by bot/channels/line/render.py."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import aiohttp
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
)
from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels.line import menu, render, send
from bot.core.channel import DeliveryError, RateLimited, Recipient, TransientError, Unreachable
from bot.core.i18n import pick_locale
from bot.core.types import Actor, Incoming, Reply
from bot.runtime.app import App
from storage import buttons as store
from storage import identities, inbox, outbox

log = logging.getLogger(__name__)

NAME = "line"
WEBHOOK_PATH = "/line/webhook"
SIGNATURE_HEADER = "X-Line-Signature"
MAX_BODY = 1_000_000  # a webhook carries a few events of a few kilobytes
REPLY_WINDOW = timedelta(seconds=50)  # a reply token is good for about a minute
EXPIRED_ACTION = "line.expired"  # an unknown token: no route, so "this button has expired"

EVENTS = Counter("alumni_bot_line_events", "LINE webhook events received", ["kind"])


def _part(event: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested object of an event, or {} when it is missing or not an object."""
    value = event.get(name)
    return value if isinstance(value, dict) else {}


KINDS = ("message", "postback", "follow", "unfollow")
MAX_PROFILES = 10_000  # display names and languages kept in memory
# What a call to LINE can fail with: its answer (ApiException), or no answer at all.
NETWORK_ERRORS = (ApiException, aiohttp.ClientError, OSError, TimeoutError)


def _status(exc: BaseException) -> str:
    return str(exc.status) if isinstance(exc, ApiException) else type(exc).__name__


def _error(exc: BaseException, to: str) -> DeliveryError:
    if isinstance(exc, ApiException):
        return send.delivery_error(exc, to)
    return TransientError(str(exc) or type(exc).__name__)


class LineChannel:
    name = NAME

    def __init__(self, app: App) -> None:
        settings = app.settings
        if not settings.line_channel_access_token or not settings.line_channel_secret:
            raise ValueError("LINE_CHANNEL_ACCESS_TOKEN and LINE_CHANNEL_SECRET are not set")
        self.app = app
        self.secret = settings.line_channel_secret.encode()
        self.token = settings.line_channel_access_token
        self._client: AsyncApiClient | None = None
        self._api: AsyncMessagingApi | None = None
        self.languages: dict[str, tuple[str | None, str | None]] = {}  # user → (name, lang)
        self.serving: Any = None  # `run`'s own web server (uvicorn), while poll() runs
        self.ahead = store.Ahead()  # button tokens of the worker's claimed batch

    @property
    def api(self) -> AsyncMessagingApi:
        if self._api is None:  # aiohttp wants its session made inside the running loop
            config = Configuration(
                host=self.app.settings.line_api_url.rstrip("/"), access_token=self.token
            )
            config.connection_pool_maxsize = 64
            url = self.app.settings.line_api_url
            self._client = menu.DataHost(config, menu.data_host(url))
            self._api = AsyncMessagingApi(self._client)
        return self._api

    async def setup(self) -> str:
        """The rich menu of the main commands, made everyone's default (`alumni-bot line
        setup`); returns its id."""
        api = self.api
        return await menu.setup(api, AsyncMessagingApiBlob(self._client), self.app.catalogs)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, *, webhooks: bool = False) -> None:
        info = await self.api.get_bot_info()  # a wrong token fails here, at start-up
        if info.basic_id and not self.app.settings.line_basic_id:
            self.app.settings.line_basic_id = info.basic_id  # for invite links
        self.app.inbox.register(NAME, self.handle)
        if webhooks:
            try:
                if not await menu.current(self.api):
                    await self.setup()
            except Exception:  # a convenience: serving goes on without it
                log.exception("LINE rich menu not set up (try `alumni-bot line setup`)")

    async def stop(self) -> None:
        if self.serving is not None:
            self.serving.should_exit = True  # `run`'s webhook server finishes its requests
        if self._client is not None:
            await self._client.close()
        self._client = self._api = None

    async def poll(self) -> None:
        """LINE cannot be polled: `run` serves the webhook on PORT (tunnel it, docs/line.md)."""
        import uvicorn

        web = Starlette(routes=self.web_routes())
        config = uvicorn.Config(web, host="0.0.0.0", port=self.app.settings.port, log_level="info")
        server = uvicorn.Server(config)
        # `run` handles the signals; uvicorn's own handlers would swallow them.
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        log.info("LINE webhook on port %d%s", self.app.settings.port, WEBHOOK_PATH)
        self.serving = server
        try:
            await server.serve()
        finally:
            self.serving = None

    # -- webhook (serve) -----------------------------------------------------------------------

    def web_routes(self) -> list[BaseRoute]:
        return [Route(WEBHOOK_PATH, self.webhook, methods=["POST"])]

    def signed(self, body: bytes, signature: str) -> bool:
        expected = base64.b64encode(hmac.new(self.secret, body, hashlib.sha256).digest())
        return hmac.compare_digest(signature.encode(), expected)

    async def webhook(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "too large"}, 413)
        if not self.signed(body, request.headers.get(SIGNATURE_HEADER, "")):
            EVENTS.labels("refused").inc()
            return JSONResponse({"error": "bad signature"}, 401)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return JSONResponse({"error": "malformed JSON"}, 400)
        events = data.get("events") if isinstance(data, dict) else None
        if not isinstance(events, list):
            return JSONResponse({"error": "no events"}, 400)
        try:
            for event in events:  # none at all: the console's "Verify" button
                if isinstance(event, dict):
                    await self.record(event)
        except Exception:  # not recorded, so not acknowledged: LINE redelivers
            log.exception("LINE events could not be recorded")
            return JSONResponse({"error": "try again"}, 503)
        return JSONResponse({})

    async def record(self, event: dict[str, Any]) -> None:
        key = event.get("webhookEventId")
        if not isinstance(key, str) or not key:
            raw = json.dumps(event, sort_keys=True).encode()
            key = "sha256:" + hashlib.sha256(raw).hexdigest()
        source = _part(event, "source")
        user_id = source.get("userId")
        if source.get("type") == "user" and isinstance(user_id, str):
            conversation = inbox.private_conversation("", user_id)
        else:
            group = source.get("groupId") or source.get("roomId")
            conversation = f"chat:{group}" if isinstance(group, str) else f"event:{key}"
        if not await self.app.inbox.record(NAME, key, conversation, event):
            EVENTS.labels("duplicate").inc()

    async def handle(self, event: dict[str, Any]) -> None:
        """An event from the inbox; never raises (a failure is logged with its context)."""
        try:
            await self.process(event)
        except Exception:
            log.exception("LINE event %s failed", event.get("webhookEventId"))

    # -- one event -----------------------------------------------------------------------------

    async def process(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        source = _part(event, "source")
        user_id = source.get("userId")
        if source.get("type") != "user" or not isinstance(user_id, str) or not user_id:
            EVENTS.labels("not_private").inc()  # groups and rooms: not served yet
            return
        key = str(event.get("webhookEventId") or "")
        EVENTS.labels(kind if kind in KINDS else "other").inc()
        if kind == "unfollow":
            self.languages.pop(user_id, None)
            await identities.mark_unreachable(self.app.db, NAME, "", user_id, "unfollowed on LINE")
            return
        actor = await self._actor(user_id, fresh=kind == "follow")
        incoming: Incoming | None = None
        greeting: list[Reply] = []
        if kind == "follow":
            greeting = [Reply(await self._text(actor, "line.follow"))]
            incoming = Incoming(actor, user_id, command="help", event_id=key)
        elif kind == "message":
            message = _part(event, "message")
            text = message.get("text")
            if message.get("type") == "text" and isinstance(text, str):
                incoming = Incoming(actor, user_id, text=text, event_id=key)
            else:  # a sticker, a photo, a voice note: the bot reads text only
                greeting = [Reply(await self._text(actor, "line.text_only"))]
        elif kind == "postback":
            postback = _part(event, "postback")
            data = postback.get("data")
            now = self.app.clock.now()
            pressed = await store.resolve(self.app.db, data if isinstance(data, str) else "", now)
            if pressed is None:
                pressed = store.Pressed(EXPIRED_ACTION, "", user_id)
            incoming = Incoming(
                actor,
                user_id,
                action=pressed.action,
                payload=pressed.payload,
                event_id=key,
                shown_to=pressed.owner,
            )
        else:
            return  # accountLink, unsend, read receipts…: nothing to say
        replies = greeting
        if incoming is not None:
            replies = greeting + await self.app.dispatcher.dispatch(incoming)
        await self.answer(user_id, actor, replies, event)

    async def _actor(self, user_id: str, *, fresh: bool = False) -> Actor:
        """Who writes, with LINE's display name and language (profile API, once per process)."""
        if fresh or user_id not in self.languages:
            try:
                profile = await self.api.get_profile(user_id)
                self.languages[user_id] = (profile.display_name, profile.language)
            except NETWORK_ERRORS as exc:  # not a friend any more, or LINE is slow: no hint
                log.info("LINE profile of %s not read: %s", user_id, _status(exc))
                self.languages.setdefault(user_id, (None, None))
            if len(self.languages) > MAX_PROFILES:  # a cache, not a copy of every friend
                self.languages = {user_id: self.languages[user_id]}
        name, language = self.languages[user_id]
        return Actor(NAME, user_id, "", name, language)

    async def _text(self, actor: Actor, key: str, **params: Any) -> str:
        """A channel-level message in the person's language (chosen in the bot, else LINE's)."""
        async with self.app.db.sessions() as session:
            chosen = await identities.chosen_locale(session, NAME, actor.user_id)
        locale = pick_locale(chosen, actor.locale_hint, self.app.settings.default_locale)
        return self.app.catalogs.text(locale, key, **params)

    # -- answering -----------------------------------------------------------------------------

    async def _render(
        self, reply: Reply, user_id: str, note: str, tokens: store.Keys | None = None
    ) -> list[render.Message]:
        """`tokens`: the buttons' tokens if issued ahead (the worker's batch), else issued here."""
        if tokens is None:
            keys = render.button_keys(reply)
            now = self.app.clock.now()
            tokens = await store.issue(self.app.db, keys, now, user_id) if keys else {}
        return render.render(reply, tokens, note)

    async def answer(
        self, user_id: str, actor: Actor, replies: list[Reply], event: dict[str, Any]
    ) -> None:
        """With the reply token while it is fresh (free), the rest by push. A push that fails
        for a while (429, 5xx) goes to the outbox with the answers after it, in order."""
        if not replies:
            return
        note = await self._text(actor, "line.file_elsewhere")
        rendered = [await self._render(r, user_id, note) for r in replies]
        key = str(event.get("webhookEventId") or "")
        token, stamp = event.get("replyToken"), event.get("timestamp")
        now_ms = self.app.clock.now().timestamp() * 1000
        first = 0
        if (
            isinstance(token, str)
            and isinstance(stamp, int)
            and now_ms - stamp < REPLY_WINDOW.total_seconds() * 1000
        ):
            batch: list[render.Message] = []
            while (
                first < len(rendered) and len(batch) + len(rendered[first]) <= render.MAX_MESSAGES
            ):
                batch += rendered[first]
                first += 1
            if batch:
                try:
                    await send.reply(self.api, token, batch)
                except send.InvalidReplyToken as exc:
                    log.info("LINE reply token of %s not usable (%s): pushing", key, exc)
                    first = 0
                except NETWORK_ERRORS as exc:  # the pushes below take over
                    log.warning("LINE reply to %s failed: %s", user_id, _status(exc))
                    first = 0
        for n in range(first, len(replies)):
            try:
                await self._push(user_id, rendered[n], ("answer", key, n))
            except NETWORK_ERRORS as exc:
                error = _error(exc, user_id)
                if isinstance(error, Unreachable):
                    log.warning("LINE answer to %s failed: %s", user_id, error)
                    return
                for m in range(n, len(replies)):
                    await self._later(user_id, replies[m], f"answer:{NAME}:{key}:{m}", error)
                return

    async def _push(
        self, to: str, messages: list[render.Message], key: tuple[Any, ...], counted: bool = True
    ) -> None:
        for i, batch in enumerate(render.batches(messages)):
            retry = send.retry_key(*key, to, i)
            now = self.app.clock.now()
            # A reply too long for one request takes several: LINE counts each.
            here = counted or i > 0
            await send.push(self.api, self.app.db, now, to, batch, retry, counted=here)

    async def _later(self, user_id: str, reply: Reply, key: str, error: DeliveryError) -> None:
        now = self.app.clock.now()
        wait = error.retry_after if isinstance(error, RateLimited) else 0.0
        if reply.attachment is not None or reply.form is not None:
            reply = Reply(reply.text, reply.buttons)  # files are not queued; the text is
        await outbox.enqueue_answer(
            self.app.db, channel=NAME, workspace="", user_id=user_id, chat_id=user_id,
            reply=reply, key=key, now=now, not_before=now + timedelta(seconds=wait),
        )  # fmt: skip
        log.warning("LINE answer to %s deferred to the outbox (%s)", user_id, error)

    # -- delivery (worker) ---------------------------------------------------------------------

    async def prepare(self, batch: Sequence[tuple[Recipient, Reply]]) -> None:
        """The button tokens of a claimed batch, in one transaction."""
        wanted = [(to.message_key, render.button_keys(r), to.user_id) for to, r in batch
                  if to.message_key]  # fmt: skip
        await self.ahead.issue(self.app.db, wanted, self.app.clock.now())

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        """A proactive message by push; its retry key is fixed by the outbox row."""
        user_id = to.chat_id or to.user_id
        tokens = self.ahead.take(to.message_key, render.button_keys(reply), to.user_id)
        messages = await self._render(reply, to.user_id, "", tokens)
        if not messages:
            return user_id
        try:
            key = to.message_key or uuid.uuid4().hex  # no key: nothing to de-duplicate against
            # The worker counts what it sends against the month (one write a flush).
            await self._push(user_id, messages, ("outbox", key, user_id), counted=False)
        except NETWORK_ERRORS as exc:
            raise _error(exc, user_id) from exc
        return user_id


async def setup_command(app: App) -> str:
    """`alumni-bot line setup`: the rich menu, and the basic id for invite links."""
    channel = LineChannel(app)
    try:
        info = await channel.api.get_bot_info()
        menu_id = await channel.setup()
    finally:
        await channel.stop()
    return f"rich menu {menu_id} is everyone's default; basic id {info.basic_id}"
