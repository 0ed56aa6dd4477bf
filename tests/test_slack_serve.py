"""`alumni-bot serve` as an operator runs it (its own process, configured by the environment),
with SLACK_API_URL pointing to the fake: signed `/alumni help` is answered in each linked
person's language, an unsigned request gets 401."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from bot.runtime.app import App
from tests.conftest import make_settings
from tests.fakes.slack_api import TEAM, TOKEN, FakeSlackAPI
from tests.support.slack_workspace import (
    EMMA,
    HANAKO,
    SECRET,
    add_users,
    load_linked_company,
    signature,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackAPI]:
    api = FakeSlackAPI()
    add_users(api)
    await api.start()
    yield api
    await api.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def healthy(http: httpx.AsyncClient, serve: asyncio.subprocess.Process) -> None:
    """Polls until the server listens (start-up, not a timing assertion)."""
    for _ in range(300):
        assert serve.returncode is None, "alumni-bot serve exited"
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("alumni-bot serve did not start")


def command(user: str, text: str, response_url: str) -> bytes:
    return urlencode(
        {"command": "/alumni", "text": text, "user_id": user, "team_id": TEAM,
         "channel_id": "CGENERAL", "response_url": response_url, "trigger_id": "t"}
    ).encode()  # fmt: skip


async def test_serve_answers_signed_help_in_both_languages(
    sqlite_url: str, fake: FakeSlackAPI, tmp_path: Path
) -> None:
    app = App.build(make_settings(sqlite_url))
    await load_linked_company(app)
    await app.close()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "PORT": str(port),
    }
    log = (tmp_path / "serve.log").open("wb")
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", env=env, cwd=ROOT, stdout=log, stderr=log
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await healthy(http, serve)
            for user, name in ((HANAKO, "ja"), (EMMA, "en")):
                body = command(user, "help", fake.response_url(name))
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
                headers |= signature(body, int(time.time()))
                response = await http.post("/slack/events", content=body, headers=headers)
                assert response.status_code == 200
            await fake.wait_until(lambda: len(fake.to("response")) == 2)
            answers = {
                c.params["name"]: fake.text_of(c.params["blocks"]) for c in fake.to("response")
            }
            assert "できること" in answers["ja"] and "Here is what you can do" in answers["en"]

            before = len(fake.calls)
            body = command(EMMA, "pause", fake.response_url("unsigned"))
            response = await http.post("/slack/events", content=body)
            assert response.status_code == 401
            stale = signature(body, int(time.time()) - 360)
            assert (
                await http.post("/slack/events", content=body, headers=stale)
            ).status_code == 401
            assert len(fake.calls) == before
    finally:
        if serve.returncode is None:
            serve.terminate()
        await asyncio.wait_for(serve.wait(), 10)
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text(errors="replace")
