"""The ASGI app of `alumni-bot serve`: every configured channel's endpoints, health, metrics
and the web admin console.
Stateless: run as many as needed behind a load balancer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.core.channel import Channel
from bot.runtime import admin
from bot.runtime.app import App
from handlers import jobs


def build_web_app(app: App, channels: Sequence[Channel]) -> Starlette:
    async def healthz(request: Request) -> Response:
        ok = await app.db.ping()
        return JSONResponse({"database": "ok" if ok else "unreachable"}, 200 if ok else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        for channel in channels:
            await channel.start(webhooks=True)
        handling = asyncio.get_running_loop().create_task(app.inbox.run())
        warming = asyncio.get_running_loop().create_task(jobs.warm(app))
        try:
            yield
        finally:
            warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warming
            # SIGTERM / SIGINT: uvicorn stops taking requests, then this: what was recorded
            # and not handled is given back, for the next process.
            await app.inbox.stop()
            await handling
            for channel in channels:
                await channel.stop()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    routes += admin.routes(app)  # the web console (bot/runtime/admin/)
    for channel in channels:
        routes += channel.web_routes()
    return Starlette(routes=routes, lifespan=lifespan)
