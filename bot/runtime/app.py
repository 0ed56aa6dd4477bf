"""Assembles the bot from its parts: settings, database, catalogs, routes, dispatcher, clock.
Every process (chat, run, serve, worker) and every test builds one of these."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.core.clock import Clock, SystemClock
from bot.core.i18n import Catalogs
from bot.core.settings import Settings
from bot.dispatch.router import Dispatcher
from bot.dispatch.services import Services
from bot.runtime.inbox import Inbox
from handlers import build_router
from storage import migrate
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class App(Services):
    """The services plus the dispatcher: what channels and processes need."""

    dispatcher: Dispatcher
    inbox: Inbox  # what platforms push, recorded before it is acknowledged

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> App:
        clock = clock or SystemClock()
        pool = settings.database
        db = Database.connect(settings.database_url, pool.pool_size, pool.max_overflow)
        catalogs = Catalogs.load()
        dispatcher = Dispatcher(db, settings, catalogs, build_router(), clock)
        inbox = Inbox(db, clock, settings.inbox)
        return cls(settings, db, catalogs, clock, dispatcher, inbox)

    async def prepare(self) -> None:
        """The SQLite default upgrades itself; PostgreSQL is upgraded by `alumni-bot db upgrade`
        (a deploy step), and refusing to start on an old schema beats failing mid-request."""
        if self.db.is_sqlite:
            if not await migrate.is_current(self.db):
                await migrate.upgrade(self.db)
        elif not await migrate.is_current(self.db):
            raise RuntimeError("the database schema is not current: run `alumni-bot db upgrade`")

    async def close(self) -> None:
        await self.db.close()
