"""A fake Slack Web API on 127.0.0.1 (random port) for tests and benchmarks.

It answers what the Slack channel calls (`auth.test`, `users.info`, `conversations.open`,
`chat.postMessage`, `chat.update`, `views.open`, `views.publish`, `files.getUploadURLExternal`
with its upload URL, `files.completeUploadExternal`) and `response_url` posts, records every
call, and refuses what Slack refuses: a wrong token (`invalid_auth`), Block Kit over its limits
(`invalid_blocks`), an unknown user. It can be told to answer 429 with `Retry-After`
(`rate_limit`) or to fail a method (`fail_next`).

It can serve several workspaces: each bot token belongs to one team (`add_team`), a user is
found only with their own team's token, `oauth.v2.access` trades a granted code for a team's
token (`grant_code`), and a revoked token answers `token_revoked` (`revoke`, `revoke_after`)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

TOKEN = "xoxb-1-fake-token"
TEAM = "T0FAKE"
BOT_USER = "UBOT"
LIMITS = {"message": 50, "modal": 100, "home": 100}


@dataclass
class Call:
    method: str  # a Web API method, "upload" or "response"
    params: dict[str, Any]
    path: str = ""
    at: float = field(default_factory=time.perf_counter)  # when it arrived (benchmarks)


@dataclass
class SlackUser:
    id: str
    name: str
    locale: str = "en-US"
    team: str = TEAM
    email: str | None = None  # in the profile (users:read.email)


def block_errors(blocks: Any, limit: int) -> list[str]:
    """What Slack would refuse in these blocks (a subset of its checks, the ones we rely on)."""
    if not isinstance(blocks, list):
        return ["blocks is not a list"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"{len(blocks)} blocks > {limit}")
    action_ids: list[str] = []

    def text_ok(obj: Any, limit: int, where: str, kinds: tuple[str, ...]) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in kinds:
            problems.append(f"{where}: bad text object")
            return
        size = len(str(obj.get("text", "")))
        if not 1 <= size <= limit:
            problems.append(f"{where}: text of {size} chars (1..{limit})")

    for n, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        where = f"blocks[{n}]"
        if kind == "section":
            text_ok(block.get("text"), 3000, where, ("mrkdwn", "plain_text"))
        elif kind == "header":
            text_ok(block.get("text"), 150, where, ("plain_text",))
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                problems.append(f"{where}: {len(elements)} elements")
            for e in elements:
                text_ok(e.get("text"), 75, where + " button", ("plain_text",))
                action_ids.append(str(e.get("action_id", "")))
                if len(str(e.get("value", ""))) > 2000:
                    problems.append(f"{where}: value over 2000")
                if e.get("style") not in (None, "primary", "danger"):
                    problems.append(f"{where}: bad style")
        elif kind == "input":
            text_ok(block.get("label"), 2000, where + " label", ("plain_text",))
            if "hint" in block:
                text_ok(block["hint"], 2000, where + " hint", ("plain_text",))
            element = block.get("element", {})
            if not 1 <= len(str(element.get("action_id", ""))) <= 255:
                problems.append(f"{where}: bad action_id")  # unique per block: one element
            if len(str(element.get("initial_value", ""))) > int(element.get("max_length", 3000)):
                problems.append(f"{where}: initial value over max_length")
            for option in element.get("options", []):
                text_ok(option.get("text"), 75, where + " option", ("plain_text",))
        elif kind == "context":
            if not 1 <= len(block.get("elements", [])) <= 10:
                problems.append(f"{where}: context elements")
        elif kind != "divider":
            problems.append(f"{where}: unknown block type {kind!r}")
    if any(len(a) > 255 or not a for a in action_ids):
        problems.append("action_id empty or over 255")
    # Slack wants them unique within a block; we promise more: unique within the message.
    if dupes := {a for a in action_ids if action_ids.count(a) > 1}:
        problems.append(f"duplicate action_id {sorted(dupes)}")
    return problems


def view_errors(view: Any) -> list[str]:
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        return ["bad view type"]
    problems = block_errors(view.get("blocks"), LIMITS[view["type"]])
    for block in view.get("blocks") or []:
        element = block.get("element") if isinstance(block, dict) else None
        if isinstance(element, dict) and "initial_date" in element:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(element["initial_date"])):
                problems.append(f"initial_date {element['initial_date']!r} is not YYYY-MM-DD")
    if view["type"] == "modal":
        for key in ("title", "submit", "close"):
            obj = view.get(key)
            if not isinstance(obj, dict) or not 1 <= len(str(obj.get("text", ""))) <= 24:
                problems.append(f"{key} over 24 chars")
        if len(str(view.get("private_metadata", ""))) > 3000:
            problems.append("private_metadata over 3000")
    return problems


def _json_param(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


class FakeSlackAPI:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.teams: dict[str, tuple[str, str]] = {token: (TEAM, "Fake Co")}  # token → team
        self.revoked: set[str] = set()
        self.codes: dict[str, str] = {}  # OAuth code → the token it is traded for
        self._revoke_after: dict[str, int] = {}
        self._team = TEAM  # the team of the request being answered
        self.post_delay = 0.0  # seconds a chat.postMessage takes
        self.calls: list[Call] = []
        self.users: dict[str, SlackUser] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self._rate_limits: dict[str, list[int]] = {}
        self._failures: dict[str, list[tuple[int, str]]] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.received = asyncio.Condition()

    # -- control ------------------------------------------------------------------------------

    async def start(self) -> None:
        server = web.Application()
        server.router.add_route("*", "/api/{method}", self._api)
        server.router.add_post("/upload/{file_id}", self._upload)
        server.router.add_post("/response/{name}", self._response)
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def add_user(
        self,
        user_id: str,
        name: str,
        locale: str = "en-US",
        team: str = TEAM,
        email: str | None = None,
    ) -> SlackUser:
        self.users[user_id] = SlackUser(user_id, name, locale, team, email)
        return self.users[user_id]

    def add_team(self, team: str, token: str, name: str) -> None:
        self.teams[token] = (team, name)

    def grant_code(self, code: str, token: str) -> None:
        """Slack's consent page was passed: `code` may be traded once for `token`."""
        self.codes[code] = token

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    def revoke_after(self, token: str, messages: int) -> None:
        """The token is revoked after this many more chat.postMessage calls succeed."""
        self._revoke_after[token] = messages

    def _user(self, user_id: object) -> SlackUser | None:
        user = self.users.get(str(user_id))
        return user if user is not None and user.team == self._team else None

    def rate_limit(self, method: str, retry_after: int, times: int = 1) -> None:
        self._rate_limits.setdefault(method, []).extend([retry_after] * times)

    def fail_next(self, method: str, error: str, status: int = 200) -> None:
        self._failures.setdefault(method, []).append((status, error))

    async def wait_until(self, done: Callable[[], bool], seconds: float = 10) -> None:
        """Until `done()` holds after a call arrived (for a `serve` in another process)."""
        async with self.received:
            await asyncio.wait_for(self.received.wait_for(done), seconds)

    # -- reading what arrived -----------------------------------------------------------------

    def to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [
            c.params
            for c in self.to("chat.postMessage")
            if channel is None or c.params.get("channel") == channel
        ]

    @staticmethod
    def text_of(blocks: list[dict[str, Any]]) -> str:
        parts: list[str] = []
        for block in blocks:
            if block.get("type") == "section":
                parts.append(block["text"]["text"])
            for e in block.get("elements", []):
                if isinstance(e.get("text"), dict):
                    parts.append(f"[{e['text']['text']}]")
            if block.get("type") == "input":
                parts.append(block["label"]["text"])
        return "\n".join(parts)

    def texts(self, since: int = 0) -> str:
        """Everything shown to anyone since call number `since`: messages, ephemeral
        responses, modals and home tabs, as text with buttons as `[label]`."""
        out: list[str] = []
        for call in self.calls[since:]:
            p = call.params
            if call.method in ("chat.postMessage", "response") and "blocks" in p:
                out.append(self.text_of(p["blocks"]))
            elif call.method in ("views.open", "views.publish"):
                out.append(self.text_of(p["view"]["blocks"]))
        return "\n".join(out)

    # -- the server ---------------------------------------------------------------------------

    async def _record(self, call: Call) -> None:
        async with self.received:
            self.calls.append(call)
            self.received.notify_all()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: _json_param(v) for k, v in request.query.items()}
        body = await request.read()
        if body and request.content_type == "application/json":
            params.update(json.loads(body))
        elif body:
            params.update({k: _json_param(v) for k, v in parse_qsl(body.decode())})
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        await self._record(Call(method, params, request.path))
        if self.post_delay and method == "chat.postMessage":
            await asyncio.sleep(self.post_delay)  # a loaded platform, for crash tests
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if method == "oauth.v2.access":  # the app's client id and secret, no token
            basic = request.headers.get("Authorization", "").startswith("Basic ")
            return web.json_response(self._oauth_v2_access(params, basic))
        if token in self.revoked:
            return web.json_response({"ok": False, "error": "token_revoked"})
        if token not in self.teams:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self._team = self.teams[token][0]
        if method == "chat.postMessage" and token in self._revoke_after:
            self._revoke_after[token] -= 1
            if self._revoke_after[token] < 0:
                del self._revoke_after[token]
                self.revoked.add(token)
                return web.json_response({"ok": False, "error": "token_revoked"})
        if self._rate_limits.get(method):
            retry_after = self._rate_limits[method].pop(0)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        if self._failures.get(method):
            status, error = self._failures[method].pop(0)
            return web.json_response({"ok": False, "error": error}, status=status)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        result: dict[str, Any] = handler(params)
        return web.json_response(result)

    @staticmethod
    def _error(error: str, detail: list[str] | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = {"ok": False, "error": error}
        if detail:
            answer["response_metadata"] = {"messages": detail}
        return answer

    def _oauth_v2_access(self, p: dict[str, Any], basic: bool) -> dict[str, Any]:
        token = self.codes.pop(str(p.get("code")), None)
        if token is None or not (basic or (p.get("client_id") and p.get("client_secret"))):
            return self._error("invalid_code")
        team, name = self.teams[token]
        return {
            "ok": True,
            "app_id": "AFAKE",
            "access_token": token,
            "token_type": "bot",
            "scope": "commands,chat:write",
            "bot_user_id": BOT_USER,
            "team": {"id": team, "name": name},
            "authed_user": {"id": "UINSTALLER"},
        }

    def _auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        team, name = next(v for v in self.teams.values() if v[0] == self._team)
        return {
            "ok": True,
            "user_id": BOT_USER,
            "team": name,
            "team_id": team,
            "bot_id": "BFAKE",
            "url": "https://fake.slack.com/",
        }

    def _users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self._user(p.get("user"))
        if user is None:
            return self._error("user_not_found")
        data: dict[str, Any] = {
            "id": user.id,
            "team_id": user.team,
            "name": user.name.lower(),
            "profile": {"real_name": user.name, "display_name": user.name},
        }
        if user.email:
            data["profile"]["email"] = user.email
        if str(p.get("include_locale")).lower() in ("1", "true"):
            data["locale"] = user.locale
        return {"ok": True, "user": data}

    def _conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        user = str(p.get("users", ""))
        if self._user(user) is None:
            return self._error("user_not_found")
        return {"ok": True, "channel": {"id": "D" + user}}

    def _message_problems(self, p: dict[str, Any]) -> list[str]:
        if not p.get("channel"):
            return ["channel_not_found"]
        if "blocks" in p:
            return block_errors(p["blocks"], LIMITS["message"])
        return [] if p.get("text") else ["no_text"]

    def _chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        if problems := self._message_problems(p):
            return self._error("invalid_blocks", problems)
        ts = f"1700000000.{next(self._ts):06d}"
        message = {"ts": ts, "text": p.get("text", ""), "blocks": p.get("blocks", [])}
        self.messages[(str(p["channel"]), ts)] = message
        p["_ts"] = ts  # the recorded call's params: tests press buttons of this message
        return {"ok": True, "channel": p["channel"], "ts": ts, "message": message}

    def _chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (str(p.get("channel")), str(p.get("ts")))
        if key not in self.messages:
            return self._error("message_not_found")
        if problems := self._message_problems(p):
            return self._error("invalid_blocks", problems)
        self.messages[key].update(text=p.get("text", ""), blocks=p.get("blocks", []))
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("trigger_id"):
            return self._error("invalid_trigger_id")
        if problems := view_errors(p.get("view")):
            return self._error("invalid_blocks", problems)
        return {"ok": True, "view": {"id": "V1", **p["view"]}}

    def _views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        if self._user(p.get("user_id")) is None:
            return self._error("user_not_found")
        if problems := view_errors(p.get("view")):
            return self._error("invalid_blocks", problems)
        return {"ok": True, "view": {"id": "VHOME", **p["view"]}}

    def _files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("filename") or not str(p.get("length", "")).isdigit():
            return self._error("invalid_arguments")
        file_id = f"F{len(self.to('files.getUploadURLExternal'))}"
        url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
        return {"ok": True, "upload_url": url, "file_id": file_id}

    def _files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        files = p.get("files")
        if not isinstance(files, list) or any(f.get("id") not in self.uploads for f in files):
            return self._error("file_not_found")
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()  # slack_sdk posts the raw bytes
        self.uploads[file_id] = data
        await self._record(Call("upload", {"file_id": file_id, "bytes": data}, request.path))
        return web.Response(text=f"OK - {len(data)}")

    async def _response(self, request: web.Request) -> web.Response:
        try:
            params = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        params["name"] = request.match_info["name"]
        await self._record(Call("response", params, request.path))
        if "blocks" in params and block_errors(params["blocks"], LIMITS["message"]):
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")
