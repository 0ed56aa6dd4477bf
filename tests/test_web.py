"""`serve`'s own endpoints: health (with the database) and metrics."""

from __future__ import annotations

import httpx

from bot.core.clock import FixedClock
from bot.core.types import Actor, Incoming
from bot.runtime.app import App
from bot.runtime.web import build_web_app
from tests.conftest import make_settings


async def get(app: App, path: str) -> httpx.Response:
    web = build_web_app(app, [])
    transport = httpx.ASGITransport(app=web)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
        return await http.get(path)


async def test_healthz_is_200_with_the_database_reachable(app: App) -> None:
    response = await get(app, "/healthz")
    assert response.status_code == 200 and response.json() == {"database": "ok"}


async def test_healthz_is_503_when_the_database_is_not(clock: FixedClock) -> None:
    gone = App.build(make_settings("postgresql://postgres@127.0.0.1:1/nowhere"), clock)
    try:
        response = await get(gone, "/healthz")
    finally:
        await gone.close()
    assert response.status_code == 503 and response.json() == {"database": "unreachable"}


async def test_metrics_count_what_the_bot_handled(sqlite_app: App) -> None:
    await sqlite_app.dispatcher.dispatch(Incoming(Actor("telegram", "m1"), "m1", text="help"))
    response = await get(sqlite_app, "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    counted = [line for line in lines if line.startswith("alumni_bot_dispatches_total{")]
    assert any('channel="telegram"' in line and 'outcome="ok"' in line for line in counted)
    assert any(line.startswith("alumni_bot_dispatch_seconds_bucket") for line in lines)
