"""A fake LINE Messaging API on 127.0.0.1 (random port) for tests and benchmarks.

It speaks the wire format line-bot-sdk v3 uses (JSON bodies, `Authorization: Bearer …`, errors
as `{"message": …, "details": [...]}`), records every call, and refuses what the real API
refuses: more than 5 messages a request, text over 5,000 characters, more than 13 quick reply
items or labels over 20 characters, postback data over 300 characters, a buttons template with
more than 4 actions, a title over 40 or a text over 160 characters, a reply token used twice or
never issued (400). A push carrying an `X-Line-Retry-Key` already accepted answers 409 and
delivers nothing again. Pushes beyond `push_per_second` (a token bucket) answer 429, and so do
pushes beyond the month's `quota`. Tests build signed webhook bodies with `event_*` and `signed`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "line-test-access-token"
SECRET = "line-test-channel-secret"
BOT_USER_ID = "U" + "b" * 32
BASIC_ID = "@123abcde"
MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_QUICK_REPLY = 13
MAX_LABEL = 20
MAX_DATA = 300
MAX_ACTIONS = 4
MAX_TITLE = 40
MAX_TEMPLATE_TEXT = 160
MAX_ALT_TEXT = 400


def size(text: str) -> int:
    """LINE's limits are taken as UTF-16 code units here (an emoji counts 2): the strict view."""
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    def __init__(self, status: int, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


@dataclass(frozen=True)
class LineUser:
    user_id: str
    display_name: str
    language: str | None = "ja"


@dataclass
class Call:
    method: str
    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Delivered:
    """Messages that reached a user: by reply or by push."""

    to: str
    how: str  # "reply" | "push"
    messages: list[dict[str, Any]]


def _check_action(action: dict[str, Any], where: str) -> None:
    label = str(action.get("label", ""))
    if action.get("type") == "postback":
        data = str(action.get("data", ""))
        if not data or len(data) > MAX_DATA:
            raise ApiError(400, f"{where}.data: must be 1 to {MAX_DATA} characters")
        if size(str(action.get("displayText", ""))) > 300:
            raise ApiError(400, f"{where}.displayText: over 300 characters")
    if size(label) > MAX_LABEL:
        raise ApiError(400, f"{where}.label: must be at most {MAX_LABEL} characters")


def check_message(message: dict[str, Any], n: int) -> None:
    where = f"messages[{n}]"
    kind = message.get("type")
    if kind == "text":
        text = str(message.get("text", ""))
        if not text or size(text) > MAX_TEXT:
            raise ApiError(400, f"{where}.text: must be 1 to {MAX_TEXT} characters")
    elif kind == "template":
        template = message.get("template") or {}
        if not 1 <= size(str(message.get("altText", ""))) <= MAX_ALT_TEXT:
            raise ApiError(400, f"{where}.altText: must be 1 to {MAX_ALT_TEXT} characters")
        if template.get("type") != "buttons":
            raise ApiError(400, f"{where}.template.type: only buttons in this fake")
        actions = template.get("actions") or []
        if not 1 <= len(actions) <= MAX_ACTIONS:
            raise ApiError(400, f"{where}.template.actions: 1 to {MAX_ACTIONS} actions")
        if size(str(template.get("title") or "")) > MAX_TITLE:
            raise ApiError(400, f"{where}.template.title: over {MAX_TITLE} characters")
        text = str(template.get("text", ""))
        if not text or size(text) > MAX_TEMPLATE_TEXT:
            raise ApiError(400, f"{where}.template.text: 1 to {MAX_TEMPLATE_TEXT} characters")
        for i, action in enumerate(actions):
            _check_action(action, f"{where}.template.actions[{i}]")
    else:
        raise ApiError(400, f"{where}.type: unsupported in this fake: {kind!r}")
    quick = (message.get("quickReply") or {}).get("items")
    if quick is not None:
        if not 1 <= len(quick) <= MAX_QUICK_REPLY:
            raise ApiError(400, f"{where}.quickReply.items: 1 to {MAX_QUICK_REPLY} items")
        for i, item in enumerate(quick):
            _check_action(item.get("action") or {}, f"{where}.quickReply.items[{i}].action")


class FakeLineAPI:
    def __init__(self, token: str = TOKEN, secret: str = SECRET) -> None:
        self.token, self.secret = token, secret
        self.calls: list[Call] = []
        self.delivered: list[Delivered] = []
        self.users: dict[str, LineUser] = {}
        self.blocked: set[str] = set()  # unfollowed: pushes are accepted and go nowhere
        self.push_per_second = 1000.0
        self.now: Callable[[], float] = time.monotonic  # tests pass their clock: no real waits
        self.quota: int | None = None  # pushes a month; None: unlimited
        self.pushed_this_month = 0
        self.rich_menus: dict[str, dict[str, Any]] = {}
        self.rich_menu_images: dict[str, bytes] = {}
        self.default_rich_menu: str | None = None
        self._reply_tokens: dict[str, str] = {}  # issued, unused → user id
        self._retry_keys: dict[str, str] = {}  # accepted retry key → request id
        self._tokens: float | None = None  # a token bucket of push_per_second, refilled in time
        self._refilled = 0.0
        self._ids = itertools.count(1)
        self._failures: dict[str, list[ApiError]] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- server --------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """LINE_API_URL: the SDK's `Configuration(host=…)` (the blob host is the same here)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=20_000_000)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests do -------------------------------------------------------------------------

    def add_user(self, user: LineUser) -> None:
        self.users[user.user_id] = user
        self.blocked.discard(user.user_id)

    def fail_next(self, path: str, status: int = 429, message: str = "Too Many Requests") -> None:
        self._failures.setdefault(path, []).append(ApiError(status, message))

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def messages_to(self, user_id: str, how: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for d in self.delivered
            if d.to == user_id and (how is None or d.how == how)
            for m in d.messages
        ]

    def texts(self, user_id: str) -> list[str]:
        out = []
        for m in self.messages_to(user_id):
            if m["type"] == "text":
                out.append(m["text"])
            elif m["type"] == "template":
                out.append(m["template"]["text"])
        return out

    def pushes(self, user_id: str | None = None) -> list[Delivered]:
        return [d for d in self.delivered if d.how == "push" and user_id in (None, d.to)]

    def postbacks(self, user_id: str) -> list[tuple[str, str]]:
        """(label, data) of every button shown to the user, newest last."""
        found: list[tuple[str, str]] = []
        for m in self.messages_to(user_id):
            actions = [i["action"] for i in (m.get("quickReply") or {}).get("items", [])]
            actions += (m.get("template") or {}).get("actions", [])
            found += [(a["label"], a["data"]) for a in actions if a.get("type") == "postback"]
        return found

    async def wait_for(self, predicate: Callable[[], bool], within_s: float = 10.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), within_s)

    # -- webhook bodies ------------------------------------------------------------------------

    def _base(self, user: LineUser, kind: str, timestamp_ms: int, **extra: Any) -> dict[str, Any]:
        token = uuid.uuid4().hex
        self._reply_tokens[token] = user.user_id
        return {
            "type": kind,
            "mode": "active",
            "timestamp": timestamp_ms,
            "source": {"type": "user", "userId": user.user_id},
            "webhookEventId": "01" + uuid.uuid4().hex.upper()[:24],
            "deliveryContext": {"isRedelivery": False},
            "replyToken": token,
            **extra,
        }

    def event_text(self, user: LineUser, text: str, timestamp_ms: int) -> dict[str, Any]:
        message = {"id": str(next(self._ids)), "type": "text", "text": text, "quoteToken": "q"}
        return self._base(user, "message", timestamp_ms, message=message)

    def event_postback(self, user: LineUser, data: str, timestamp_ms: int) -> dict[str, Any]:
        return self._base(user, "postback", timestamp_ms, postback={"data": data})

    def event_follow(self, user: LineUser, timestamp_ms: int) -> dict[str, Any]:
        self.add_user(user)
        return self._base(user, "follow", timestamp_ms, follow={"isUnblocked": False})

    def event_unfollow(self, user: LineUser, timestamp_ms: int) -> dict[str, Any]:
        self.blocked.add(user.user_id)
        event = self._base(user, "unfollow", timestamp_ms)
        self._reply_tokens.pop(event.pop("replyToken"), None)  # unfollow has no reply token
        return event

    def body(self, *events: dict[str, Any]) -> bytes:
        return json.dumps({"destination": BOT_USER_ID, "events": list(events)}).encode()

    def signed(self, body: bytes, secret: str | None = None) -> str:
        key = (secret or self.secret).encode()
        return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()

    # -- the API -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        raw = await request.read()
        body: Any = None
        if request.content_type == "application/json" and raw:
            body = json.loads(raw)
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-line")}
        self.calls.append(Call(request.method, path, body, headers))
        try:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                raise ApiError(401, "Authentication failed. Confirm that the access token is valid")
            failures = self._failures.get(path)
            if failures:
                raise failures.pop(0)
            result = await self._route(request.method, path, body, raw, request)
        except ApiError as exc:
            return web.json_response({"message": exc.message}, status=exc.status,
                                     headers=exc.headers)  # fmt: skip
        finally:
            async with self._changed:
                self._changed.notify_all()
        return web.json_response(result)

    async def _route(
        self, method: str, path: str, body: Any, raw: bytes, request: web.Request
    ) -> Any:
        if method == "POST" and path == "/v2/bot/message/reply":
            return self._reply(body)
        if method == "POST" and path == "/v2/bot/message/push":
            return self._push(body, request.headers.get("X-Line-Retry-Key"))
        if method == "GET" and path.startswith("/v2/bot/profile/"):
            user = self.users.get(path.rsplit("/", 1)[1])
            if user is None or user.user_id in self.blocked:
                raise ApiError(404, "Not found")
            profile = {"userId": user.user_id, "displayName": user.display_name}
            return {**profile, **({"language": user.language} if user.language else {})}
        if method == "GET" and path == "/v2/bot/info":
            return {"userId": BOT_USER_ID, "basicId": BASIC_ID, "displayName": "Alumni",
                    "chatMode": "bot", "markAsReadMode": "auto"}  # fmt: skip
        if method == "GET" and path == "/v2/bot/message/quota":
            return {"type": "limited" if self.quota else "none", "value": self.quota or 0}
        if method == "GET" and path == "/v2/bot/message/quota/consumption":
            return {"totalUsage": self.pushed_this_month}
        return self._rich_menu(method, path, body, raw)

    def _rich_menu(self, method: str, path: str, body: Any, raw: bytes) -> Any:
        if method == "POST" and path == "/v2/bot/richmenu":
            areas = body.get("areas") or []
            if not 1 <= len(areas) <= 20 or not str(body.get("chatBarText", "")):
                raise ApiError(400, "The request body has 1 error(s)")
            if len(str(body["chatBarText"])) > 14:
                raise ApiError(400, "chatBarText: over 14 characters")
            menu_id = f"richmenu-{uuid.uuid4().hex}"
            self.rich_menus[menu_id] = {**body, "richMenuId": menu_id}
            return {"richMenuId": menu_id}
        if method == "GET" and path == "/v2/bot/richmenu/list":
            return {"richmenus": list(self.rich_menus.values())}
        if method == "DELETE" and path.startswith("/v2/bot/richmenu/"):
            menu_id = path.rsplit("/", 1)[1]
            if self.rich_menus.pop(menu_id, None) is None:
                raise ApiError(404, "Not found")
            if self.default_rich_menu == menu_id:
                self.default_rich_menu = None
            return {}
        if method == "POST" and path.startswith("/v2/bot/richmenu/") and path.endswith("/content"):
            menu_id = path.split("/")[-2]
            if menu_id not in self.rich_menus or not raw:
                raise ApiError(404 if raw else 400, "Not found")
            self.rich_menu_images[menu_id] = raw
            return {}
        if method == "POST" and path.startswith("/v2/bot/user/all/richmenu/"):
            menu_id = path.rsplit("/", 1)[1]
            if menu_id not in self.rich_menu_images:
                raise ApiError(400, "must upload richmenu image before applying it to user")
            self.default_rich_menu = menu_id
            return {}
        raise ApiError(404, "Not found")

    @staticmethod
    def _check_messages(body: Any) -> list[dict[str, Any]]:
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
            raise ApiError(400, f"messages: must be 1 to {MAX_MESSAGES} messages")
        for n, message in enumerate(messages):
            check_message(message, n)
        return messages

    def _reply(self, body: Any) -> Any:
        messages = self._check_messages(body)
        user_id = self._reply_tokens.pop(str(body.get("replyToken")), None)
        if user_id is None:
            raise ApiError(400, "Invalid reply token")
        self.delivered.append(Delivered(user_id, "reply", messages))
        return {"sentMessages": [{"id": str(next(self._ids))} for _ in messages]}

    def _push(self, body: Any, retry_key: str | None) -> Any:
        messages = self._check_messages(body)
        to = str(body.get("to", ""))
        if not (to.startswith(("U", "C", "R")) and len(to) == 33):
            raise ApiError(400, "The property, 'to', in the request body is invalid")
        if retry_key is not None:
            try:
                uuid.UUID(retry_key)
            except ValueError:
                raise ApiError(400, "The retry key is not a UUID") from None
            if retry_key in self._retry_keys:
                accepted = {"x-line-accepted-request-id": self._retry_keys[retry_key]}
                raise ApiError(409, "The retry key is already accepted", **accepted)
        now = self.now()
        if self._tokens is None:
            self._tokens = self.push_per_second
        else:
            refill = (now - self._refilled) * self.push_per_second
            self._tokens = min(self.push_per_second, self._tokens + refill)
        self._refilled = now
        if self._tokens < 1:
            raise ApiError(429, "Too Many Requests")
        if self.quota is not None and self.pushed_this_month + len(messages) > self.quota:
            raise ApiError(429, "You have reached your monthly limit.")
        self._tokens -= 1
        self.pushed_this_month += 1  # LINE counts a push to one person once, whatever it holds
        request_id = uuid.uuid4().hex
        if retry_key is not None:
            self._retry_keys[retry_key] = request_id
        if to not in self.blocked:
            self.delivered.append(Delivered(to, "push", messages))
        return {"sentMessages": [{"id": str(next(self._ids))} for _ in messages]}
