"""Which Slack workspaces the bot is installed in, and with which bot token.

Two sources, usable together: the one `SLACK_BOT_TOKEN` (a single-workspace deployment, bound to
the team `auth.test` names), and OAuth installations (`/slack/install`), kept by slack_sdk's
SQLAlchemy stores in our own database (tables in tables.py, migrated by Alembic). Bolt
asks `Authorize` for every request: a workspace with neither gets nothing processed."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from bot.core.clock import Clock
from storage import identities
from storage.db import Database

log = logging.getLogger(__name__)

TOKEN_TTL = 60.0  # seconds a looked-up bot token is trusted; uninstalling forgets it at once
STATE_SECONDS = 600  # an OAuth state is good for ten minutes, and once


class NamingStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store, which also tells `workspaces` the name of a workspace installing us."""

    def __init__(self, client_id: str, db: Database, clock: Clock) -> None:
        super().__init__(client_id=client_id, engine=db.engine)
        self.db, self.clock = db, clock

    async def async_save(self, installation: Installation) -> None:
        await super().async_save(installation)
        await identities.name_workspace(
            self.db, "slack", installation.team_id or "", installation.team_name or "",
            self.clock.now(),
        )  # fmt: skip


class Installations:
    def __init__(
        self,
        db: Database | None,
        clock: Clock,
        client_id: str | None,
        single_token: str | None = None,
    ) -> None:
        self.store: NamingStore | None = None
        self.states: AsyncSQLAlchemyOAuthStateStore | None = None
        if db is not None and client_id:
            self.store = NamingStore(client_id, db, clock)
            self.states = AsyncSQLAlchemyOAuthStateStore(
                expiration_seconds=STATE_SECONDS, engine=db.engine
            )
        self.single_token = single_token
        self.single_team = ""  # filled from auth.test at start
        self.single_bot_user = ""
        self._cache: dict[str, tuple[float, str | None, str]] = {}

    @property
    def multi(self) -> bool:
        return self.store is not None

    async def bot(self, team: str) -> tuple[str, str] | None:
        """(bot token, bot user id) for this workspace, or None when it is not installed."""
        if self.store is not None and team:
            cached = self._cache.get(team)
            if cached is None or cached[0] < time.monotonic():
                found = await self.store.async_find_bot(enterprise_id=None, team_id=team)
                token = found.bot_token if found is not None else None
                user = (found.bot_user_id or "") if found is not None else ""
                cached = (time.monotonic() + TOKEN_TTL, token, user)
                if token:  # a workspace installing us is served at once: misses are not kept
                    self._cache[team] = cached
            if cached[1]:
                return cached[1], cached[2]
        if self.single_token and (team in ("", self.single_team) or not self.single_team):
            return self.single_token, self.single_bot_user
        return None

    def forget(self, team: str) -> None:
        self._cache.pop(team, None)

    async def uninstall(self, team: str) -> None:
        """The workspace removed the app or revoked its token: drop what we kept for it."""
        self.forget(team)
        if self.store is not None and team:
            await self.store.async_delete_bot(enterprise_id=None, team_id=team)
            await self.store.async_delete_installation(enterprise_id=None, team_id=team)


class Authorize(AsyncAuthorize):
    """Bolt's authorize: the workspace's bot token from `Installations`, no auth.test per
    request (the installation already says who the bot is)."""

    def __init__(self, installations: Installations) -> None:
        self.installations = installations

    async def __call__(
        self,
        *,
        context: Any,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **_: Any,
    ) -> AuthorizeResult | None:
        found = await self.installations.bot(team_id or "")
        if found is None:
            log.warning("slack: a request from workspace %s, which has not installed us", team_id)
            return None
        token, bot_user = found
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=token,
            bot_user_id=bot_user or None,
            user_id=user_id,
        )
