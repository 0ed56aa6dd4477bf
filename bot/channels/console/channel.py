"""The console as a deliverable channel: the delivery worker "sends" a proactive message by
leaving it in the person's console inbox (tables.py), which `alumni-bot chat --as EMAIL` prints
when it opens, buttons and all. Nothing else is needed: no credentials, no network, so every
worker has this channel (`Platform.local` in bot/core/platforms.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select
from starlette.routing import BaseRoute

from bot.channels.console.tables import ConsoleMessage
from bot.core.channel import Recipient, Unreachable
from bot.core.types import Reply
from bot.runtime.app import App
from storage.db import Database
from storage.models import Identity

NAME = "console"


class ConsoleChannel:
    name = NAME

    def __init__(self, app: App) -> None:
        self.app = app
        # One insert at a time, in the order the worker sends (a fair lock): the inbox then reads
        # in that order, and SQLite has one writer anyway.
        self.writing = asyncio.Lock()

    async def start(self, *, webhooks: bool = False) -> None:
        return None

    async def stop(self) -> None:
        return None

    def web_routes(self) -> list[BaseRoute]:
        return []

    async def poll(self) -> None:
        return None  # the terminal reads its own input (chat.py)

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        async with self.writing, self.app.db.transaction() as session:
            query = select(Identity.id).where(
                Identity.channel == NAME,
                Identity.workspace == to.workspace,
                Identity.user_id == to.user_id,
            )
            identity_id = (await session.scalars(query)).first()
            if identity_id is None:
                raise Unreachable("no such console identity")
            session.add(
                ConsoleMessage(
                    identity_id=identity_id,
                    payload=reply.to_dict(),
                    delivered_at=self.app.clock.now(),
                )
            )
        return None


async def take_unread(
    db: Database, identity_id: int, now: datetime
) -> list[tuple[datetime, Reply]]:
    """What waits in the identity's inbox, oldest first; marked read as it is taken."""
    async with db.transaction() as session:
        rows = list(
            await session.scalars(
                select(ConsoleMessage)
                .where(ConsoleMessage.identity_id == identity_id, ConsoleMessage.read_at.is_(None))
                .order_by(ConsoleMessage.id)
            )
        )
        for row in rows:
            row.read_at = now
        return [(row.delivered_at, Reply.from_dict(row.payload)) for row in rows]
