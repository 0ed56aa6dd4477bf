"""A Slack workspace as tests see it: the real `serve` app, requests signed for real, and the
fake Web API's record of everything the bot sent. Used by tests/test_slack*.py."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.channels import configured_channels
from bot.channels.slack.channel import SlackChannel
from bot.core.clock import FixedClock
from bot.core.settings import Settings
from bot.runtime.app import App
from bot.runtime.web import build_web_app
from storage import importer
from tests.conftest import make_settings
from tests.fakes.slack_api import TEAM, TOKEN, FakeSlackAPI
from tests.support.people import PEOPLE_CSV, load_company

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
HANAKO, EMMA, TARO, SUZUKI, ADMIN = "UHANAKO", "UEMMA", "UTARO", "USUZUKI", "UADMIN"
STRANGER, STRANGER_JA = "USTRANGER", "USTRANGERJA"
LINKED = {
    "hanako@example.com": HANAKO,
    "emma@example.com": EMMA,
    "hr@example.com": SUZUKI,
    "admin@example.com": ADMIN,
}  # taro joins with a code


def slack_settings(database_url: str, fake: FakeSlackAPI, **overrides: Any) -> Settings:
    values = {
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SECRET,
        "slack_api_url": fake.api_url,
        **overrides,
    }
    return make_settings(database_url, **values)


def add_users(fake: FakeSlackAPI) -> None:
    for user, name, locale in (
        (HANAKO, "山田 花子", "ja-JP"),
        (EMMA, "Emma", "en-GB"),
        (TARO, "佐藤 太郎", "ja-JP"),
        (SUZUKI, "鈴木", "ja-JP"),
        (ADMIN, "Admin", "en-US"),
        (STRANGER, "Stranger", "en-US"),
        (STRANGER_JA, "見知らぬ人", "ja-JP"),
    ):
        fake.add_user(user, name, locale)


async def load_linked_company(app: App) -> None:
    """tests/support/people.py's company, with Slack user ids imported for all but Taro."""
    await load_company(app)
    lines = []
    for line in PEOPLE_CSV.strip().splitlines():
        uid = LINKED.get(line.split(",")[0])
        lines.append(line[:-2] + f",{uid}," if uid else line)
    async with app.db.transaction() as session:
        await importer.import_people(session, ("\n".join(lines) + "\n").encode(), app.clock.now())


def signature(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


@dataclass
class Workspace:
    app: App
    fake: FakeSlackAPI
    client: httpx.AsyncClient
    channel: SlackChannel
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    team: str = TEAM  # the workspace these requests come from (tests/test_bridge.py: several)

    async def post(
        self,
        body: bytes,
        content_type: str = "application/x-www-form-urlencoded",
        *,
        signed: bool = True,
        age: int = 0,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST /slack/events, signed for real unless told otherwise; waits for the work the
        channel does after its acknowledgement."""
        sent = {"Content-Type": content_type, **(headers or {})}
        if signed:
            sent.update(signature(body, int(time.time()) - age))
        response = await self.client.post("/slack/events", content=body, headers=sent)
        await self.channel.idle()
        return response

    async def interact(self, payload: dict[str, Any]) -> httpx.Response:
        return await self.post(urlencode({"payload": json.dumps(payload)}).encode())

    async def command(self, user: str, text: str, channel: str | None = None) -> str:
        """`/alumni <text>`; everything shown in answer, as text (buttons as `[label]`)."""
        since = len(self.fake.calls)
        where = channel or f"D{user}"
        form = {
            "command": "/alumni",
            "text": text,
            "user_id": user,
            "team_id": self.team,
            "channel_id": where,
            "response_url": self.fake.response_url(f"{where}-{next(self.counter)}"),
            "trigger_id": f"trigger-{next(self.counter)}",
        }
        response = await self.post(urlencode(form).encode())
        assert response.status_code == 200, response.text
        return self.fake.texts(since)

    async def event(
        self, event: dict[str, Any], event_id: str | None = None, retry: int | None = None
    ) -> httpx.Response:
        body = {
            "token": "unused",
            "team_id": self.team,
            "api_app_id": "AFAKE",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self.counter)}",
            "event_time": int(time.time()),
            "event": event,
        }
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(
            json.dumps(body).encode(), "application/json", headers=headers if retry else None
        )

    async def dm(self, user: str, text: str, event_id: str | None = None) -> str:
        since = len(self.fake.calls)
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": f"D{user}",
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
        }
        response = await self.event(event, event_id)
        assert response.status_code == 200, response.text
        return self.fake.texts(since)

    async def open_home(self, user: str, event_id: str | None = None) -> dict[str, Any]:
        event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"}
        response = await self.event(event, event_id)
        assert response.status_code == 200, response.text
        published = [c for c in self.fake.to("views.publish") if c.params["user_id"] == user]
        assert published, "no home published"
        view: dict[str, Any] = published[-1].params["view"]
        return view

    def find_button(self, user: str, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The newest thing shown to `user` with a button whose label contains `label`: the
        button, and how it was shown (message, ephemeral response or home tab)."""
        for call in reversed(self.fake.calls):
            p = call.params
            if call.method == "chat.postMessage" and str(p.get("channel", "")).endswith(user):
                where = {
                    "kind": "message",
                    "channel": p["channel"],
                    "ts": p.get("_ts"),
                    "blocks": p["blocks"],
                    "text": p.get("text", ""),
                }
            elif call.method == "response":
                where = {
                    "kind": "ephemeral",
                    "channel": p["name"].rsplit("-", 1)[0],
                    "blocks": p["blocks"],
                    "text": p.get("text", ""),
                }
            elif call.method == "views.publish" and p.get("user_id") == user:
                where = {"kind": "home", "blocks": p["view"]["blocks"]}
            else:
                continue
            for block in where["blocks"]:
                for element in block.get("elements", []):
                    if element.get("type") == "button" and label in element["text"]["text"]:
                        return element, where
        raise AssertionError(f"no button {label!r} shown to {user}")

    async def press(self, user: str, label: str) -> str:
        element, where = self.find_button(user, label)
        return await self.press_element(user, element, where)

    async def press_element(self, user: str, element: dict[str, Any], where: dict[str, Any]) -> str:
        since = len(self.fake.calls)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "team_id": self.team},
            "team": {"id": self.team},
            "trigger_id": f"trigger-{next(self.counter)}",
            "actions": [
                {
                    "type": "button",
                    "block_id": "b",
                    "action_id": element["action_id"],
                    "value": element.get("value", ""),
                    "text": element["text"],
                    "action_ts": "1",
                }
            ],
        }
        if where["kind"] == "home":
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            payload["view"] = {"id": "VHOME", "type": "home", "blocks": where["blocks"]}
        else:
            ephemeral = where["kind"] == "ephemeral"
            payload["container"] = {
                "type": "message",
                "message_ts": where.get("ts") or "0",
                "channel_id": where["channel"],
                "is_ephemeral": ephemeral,
            }
            payload["channel"] = {"id": where["channel"]}
            payload["response_url"] = self.fake.response_url(
                f"{where['channel']}-{next(self.counter)}"
            )
            if not ephemeral:
                payload["message"] = {
                    "ts": where["ts"],
                    "text": where["text"],
                    "blocks": where["blocks"],
                }
        response = await self.interact(payload)
        assert response.status_code == 200, response.text
        return self.fake.texts(since)

    def last_modal(self) -> dict[str, Any]:
        opened = self.fake.to("views.open")
        assert opened, "no modal opened"
        view: dict[str, Any] = opened[-1].params["view"]
        return view

    async def submit(self, user: str, values: dict[str, str]) -> httpx.Response:
        """Submit the last modal: `values` by field name, the rest as the modal showed them."""
        return await self.interact(self.submission(user, values))

    def submission(self, user: str, values: dict[str, str]) -> dict[str, Any]:
        """The `view_submission` payload `submit` sends."""
        view = self.last_modal()
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            if block["type"] != "input":
                continue
            element = block["element"]
            shown = (
                element.get("initial_value")
                or element.get("initial_time")
                or element.get("initial_option", {}).get("value")
            )
            value = values.get(block["block_id"], shown or "")
            if element["type"] == "static_select":
                entry: dict[str, Any] = {
                    "type": "static_select",
                    "selected_option": {"value": value} if value else None,
                }
            elif element["type"] == "timepicker":
                entry = {"type": "timepicker", "selected_time": value or None}
            else:
                entry = {"type": element["type"], "value": value}
            state[block["block_id"]] = {element["action_id"]: entry}
        payload = {
            "type": "view_submission",
            "user": {"id": user, "team_id": self.team},
            "team": {"id": self.team},
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "state": {"values": state},
            },
        }
        return payload

    async def onboard(self, user: str, agree: str = "I agree", language: str = "English") -> None:
        await self.command(user, "profile")
        await self.press(user, agree)
        await self.press(user, language)
        await self.press(user, "Asia/Tokyo")


@asynccontextmanager
async def serving(
    settings: Settings, clock: FixedClock, fake: FakeSlackAPI
) -> AsyncIterator[Workspace]:
    app = App.build(settings, clock)
    channels = configured_channels(app)
    assert [c.name for c in channels] == ["slack"]
    channel = channels[0]
    assert isinstance(channel, SlackChannel)
    web = build_web_app(app, channels)
    try:
        async with web.router.lifespan_context(web):
            transport = httpx.ASGITransport(app=web)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
                yield Workspace(app, fake, client, channel)
    finally:
        await app.close()
