"""A fake Telegram Bot API on 127.0.0.1 (random port) for tests and benchmarks.

It speaks the real wire format (`POST /bot<token>/<method>`, form or multipart parameters with
JSON-encoded values, `{"ok": …, "result": …}`), records every call, and refuses what the real
API refuses: text over 4096 characters, callback data over 64 bytes, an unknown chat (400), a
user who never pressed Start or blocked the bot (403), getUpdates while a webhook is set (409).
Tests push updates into it (`push`) and can make a method answer 429 with `retry_after` or a
5xx (`fail_next`); sends beyond `send_per_second` (a token bucket, off by default) answer 429
with `retry_after` 1, as the bot-wide limit does, and so does a second send to one chat within a
second when `chat_per_second` is set (Telegram's one message a second per chat; a tenth of the
interval is allowed for the jitter of the way there)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token_for-the-fake"
BOT = {
    "id": 900_000_001,
    "is_bot": True,
    "first_name": "Alumni",
    "username": "alumni_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
JSON_PARAMS = {"reply_markup", "entities", "caption_entities", "commands", "allowed_updates",
               "reply_parameters", "scope"}  # fmt: skip
SENDS = {"sendMessage", "sendPhoto", "sendDocument"}
COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass(frozen=True)
class TgUser:
    id: int
    first_name: str
    language_code: str | None = "ja"
    last_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


class FakeTelegramAPI:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.started: set[int] = set()  # users who pressed Start (private chat open)
        self.blocked: set[int] = set()
        self.groups: dict[int, str] = {}
        self.webhook: dict[str, Any] | None = None
        self.commands: dict[str | None, list[dict[str, str]]] = {}
        self.chat_commands: dict[int, list[dict[str, str]]] = {}  # scope "chat": one chat's own
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # (chat, message id) → message
        self.open_queries: set[str] = set()
        self.seen_users: set[int] = set()  # met in a group, never pressed Start
        self._updates: list[dict[str, Any]] = []
        self._failures: dict[str, list[ApiError]] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.send_delay = 0.0  # seconds a sendMessage takes (a loaded platform), for crash tests
        self.send_per_second: float | None = None  # the bot-wide limit; None: unlimited
        self.too_many = 0  # sends answered 429 by that limit
        self.sent_at: list[float] = []  # time.monotonic() of each accepted send
        self.chat_per_second: float | None = None  # the per-chat limit; None: unlimited
        self.chat_too_many = 0  # sends answered 429 by the per-chat limit (also in too_many)
        self.chat_sent_at: dict[str, list[float]] = {}  # chat id → its accepted sends' times
        self._bucket: float | None = None
        self._refilled = 0.0

    # -- server --------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """TELEGRAM_API_URL for the bot: the token is appended."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=60_000_000)
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])

    async def close(self) -> None:
        self._closing.set()
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests do -------------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        self._updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())

    def fail_next(
        self, method: str, code: int = 429, retry_after: int | None = None, description: str = ""
    ) -> None:
        params = {"retry_after": retry_after} if retry_after is not None else {}
        text = description or (
            f"Too Many Requests: retry after {retry_after}" if code == 429 else "Bad Gateway"
        )
        self._failures.setdefault(method, []).append(ApiError(code, text, **params))

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent (sendMessage/sendPhoto/sendDocument params), oldest first."""
        kinds = ("sendMessage", "sendPhoto", "sendDocument")
        return [
            {**c.params, "method": c.method}
            for c in self.calls
            if c.method in kinds and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    def texts(self, chat_id: int) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.sent(chat_id)]

    def last_message(self, chat_id: int) -> dict[str, Any]:
        """The newest message the bot has in that chat, as it stands after any edits."""
        mine = [m for (chat, _), m in self.messages.items() if chat == chat_id]
        assert mine, f"the bot sent nothing to chat {chat_id}"
        return max(mine, key=lambda m: int(m["message_id"]))

    async def wait_for(self, predicate: Callable[[], bool], within_s: float = 10.0) -> None:
        """Until a call (or a pushed update) makes `predicate` true; TimeoutError after that."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), within_s)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- the API -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        params, files = await _read_params(request)
        self.calls.append(Call(method, params, files))
        await self._notify()
        failures = self._failures.get(method)
        if failures:
            return _error(failures.pop(0))
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return _error(ApiError(404, "Not Found"))
        if self.send_delay and method == "sendMessage":
            await asyncio.sleep(self.send_delay)
        chat_id = str(params.get("chat_id", ""))
        if method in SENDS and (not self._chat_free(chat_id) or not self._take()):
            self.too_many += 1
            return _error(ApiError(429, "Too Many Requests: retry after 1", retry_after=1))
        try:
            result = await handler(params, files)
        except ApiError as exc:
            return _error(exc)
        if method in SENDS:
            self.sent_at.append(time.monotonic())
            self.chat_sent_at.setdefault(chat_id, []).append(self.sent_at[-1])
        return web.json_response({"ok": True, "result": result})

    async def api_getMe(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return BOT

    async def api_setWebhook(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        if not str(p.get("url", "")).startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        if "secret_token" in p and not SECRET.match(str(p["secret_token"])):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = p
        return True

    async def api_deleteWebhook(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self.webhook = None
        return True

    async def api_setMyCommands(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        commands = p.get("commands") or []
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for c in commands:
            if not COMMAND.match(c.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(c.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: command description is invalid")
        scope = p.get("scope") or {"type": "default"}
        if scope.get("type") == "chat":
            self._chat(scope.get("chat_id"))  # a chat the bot cannot reach: 400 or 403
            self.chat_commands[int(scope["chat_id"])] = commands
        else:
            self.commands[p.get("language_code")] = commands
        return True

    async def api_deleteMyCommands(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        scope = p.get("scope") or {"type": "default"}
        if scope.get("type") == "chat":
            self._chat(scope.get("chat_id"))
            self.chat_commands.pop(int(scope["chat_id"]), None)
        else:
            self.commands.pop(p.get("language_code"), None)
        return True

    async def api_getUpdates(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(p.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and float(p.get("timeout") or 0) > 0:
            async with self._changed:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(
                            lambda: bool(self._updates) or self._closing.is_set()
                        ),
                        float(p["timeout"]),
                    )
                except TimeoutError:
                    pass
        return list(self._updates)

    def _chat_free(self, chat_id: str) -> bool:
        """False (a 429) for a send to a chat that had one less than a second ago."""
        earlier = self.chat_sent_at.get(chat_id)
        if self.chat_per_second is None or not earlier:
            return True
        if time.monotonic() - earlier[-1] >= 0.9 / self.chat_per_second:
            return True
        self.chat_too_many += 1
        return False

    def _take(self) -> bool:
        """One send from the token bucket of `send_per_second` (full at the first send)."""
        if self.send_per_second is None:
            return True
        now = time.monotonic()
        if self._bucket is None:
            self._bucket = self.send_per_second
        else:
            refill = (now - self._refilled) * self.send_per_second
            self._bucket = min(self.send_per_second, self._bucket + refill)
        self._refilled = now
        if self._bucket < 1:
            return False
        self._bucket -= 1
        return True

    async def api_sendMessage(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._chat(p.get("chat_id"))
        text = str(p.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        _check_entities(text, p.get("entities"))
        return self._store(chat, {"text": text, **_optional(p, "entities", "reply_markup")})

    async def api_sendPhoto(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return await self._send_file(p, f, "photo")

    async def api_sendDocument(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return await self._send_file(p, f, "document")

    async def _send_file(self, p: dict[str, Any], f: dict[str, bytes], kind: str) -> Any:
        chat = self._chat(p.get("chat_id"))
        if kind not in f or not f[kind]:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        caption = str(p.get("caption") or "")
        if utf16_len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        _check_entities(caption, p.get("caption_entities"))
        size = len(f[kind])
        media: Any = (
            [{"file_id": "p1", "file_unique_id": "u1", "width": 1, "height": 1, "file_size": size}]
            if kind == "photo"
            else {"file_id": "d1", "file_unique_id": "u2", "file_size": size}
        )
        extra = _optional(p, "caption", "caption_entities", "reply_markup")
        return self._store(chat, {kind: media, **extra})

    async def api_answerCallbackQuery(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        query_id = str(p.get("callback_query_id"))
        if query_id not in self.open_queries:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        self.open_queries.discard(query_id)
        return True

    async def api_editMessageText(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        message = self._message(p)
        text = str(p.get("text", ""))
        if not text.strip() or utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG" if text else "text is empty")
        _check_entities(text, p.get("entities"))
        if text == message.get("text") and p.get("reply_markup") == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        message.update(text=text, **_optional(p, "entities"))
        _set_markup(message, p.get("reply_markup"))
        return message

    async def api_editMessageReplyMarkup(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        message = self._message(p)
        if p.get("reply_markup") == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        _set_markup(message, p.get("reply_markup"))
        return message

    # -- chats and messages --------------------------------------------------------------------

    def _chat(self, raw: Any) -> dict[str, Any]:
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id in self.groups:
            return {"id": chat_id, "type": "supergroup", "title": self.groups[chat_id]}
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.started:
            return {"id": chat_id, "type": "private", "first_name": "user"}
        if chat_id > 0 and chat_id in self._known_users():
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        raise ApiError(400, "Bad Request: chat not found")

    def _known_users(self) -> set[int]:
        return self.started | self.blocked | self.seen_users

    def _store(self, chat: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        if "reply_markup" in content:
            _check_markup(content["reply_markup"])
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT,
            **content,
        }
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def _message(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (int(p.get("chat_id") or 0), int(p.get("message_id") or 0))
        if key not in self.messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        if "reply_markup" in p:
            _check_markup(p["reply_markup"])
        return self.messages[key]

    # -- updates, as Telegram would send them --------------------------------------------------

    def _update(self, **content: Any) -> dict[str, Any]:
        return {"update_id": next(self._ids) + 10_000, **content}

    def _message_dict(self, chat: dict[str, Any], user: TgUser, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user.to_dict(),
            **content,
        }

    def private(self, user: TgUser, text: str | None = None, **content: Any) -> dict[str, Any]:
        """An update: `user` writes to the bot in their private chat (so they pressed Start)."""
        self.started.add(user.id)
        chat = {"id": user.id, "type": "private", "first_name": user.first_name}
        body = {"text": text, **content} if text is not None else content
        return self._update(message=self._message_dict(chat, user, **body))

    def group(
        self, chat_id: int, user: TgUser, text: str, reply_to: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.groups.setdefault(chat_id, "Alumni group")
        self.seen_users.add(user.id)
        chat = {"id": chat_id, "type": "supergroup", "title": self.groups[chat_id]}
        extra = {"reply_to_message": reply_to} if reply_to else {}
        return self._update(message=self._message_dict(chat, user, text=text, **extra))

    def press(self, user: TgUser, message: dict[str, Any], label: str) -> dict[str, Any]:
        """An update: `user` presses the button whose label contains `label` on `message`."""
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        buttons = [b for row in rows for b in row if label in b["text"]]
        assert buttons, f"no button {label!r} in {[b['text'] for r in rows for b in r]}"
        return self.callback(user, message, buttons[0]["callback_data"])

    def callback(self, user: TgUser, message: dict[str, Any] | None, data: str) -> dict[str, Any]:
        query_id = str(next(self._ids))
        self.open_queries.add(query_id)
        query: dict[str, Any] = {
            "id": query_id,
            "from": user.to_dict(),
            "chat_instance": "ci",
            "data": data,
        }
        if message is not None:
            query["message"] = message
        return self._update(callback_query=query)


def _error(exc: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return web.json_response(body, status=exc.code)


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    if request.content_type == "application/json":
        return dict(await request.json()), files
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            files[name] = value.file.read()
        elif name in JSON_PARAMS:
            params[name] = json.loads(value)
        elif name in ("chat_id", "message_id", "offset", "timeout", "limit"):
            params[name] = int(value) if re.fullmatch(r"-?\d+", str(value)) else value
        else:
            params[name] = value
    # PTB attaches uploads as attach://name references; resolve them to the field name.
    for name, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            files[name] = files.pop(value.removeprefix("attach://"), b"")
            params[name] = value
    return params, files


def _optional(p: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: p[n] for n in names if p.get(n) is not None}


def _check_markup(markup: Any) -> None:
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if not str(button.get("text", "")).strip():
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _set_markup(message: dict[str, Any], markup: Any) -> None:
    if markup and markup.get("inline_keyboard"):
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)


def _check_entities(text: str, entities: Any) -> None:
    size = utf16_len(text)
    for e in entities or []:
        if e["offset"] < 0 or e["length"] <= 0 or e["offset"] + e["length"] > size:
            raise ApiError(400, "Bad Request: can't parse entities")
