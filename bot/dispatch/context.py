"""What a handler gets besides the message: its unit of work, the caller, their language and
time. Small on purpose (docs/style.md: no global singletons)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import Clock, local_date, zone_of
from bot.core.i18n import Catalogs, Translator
from bot.core.platforms import platform
from bot.core.settings import Settings
from bot.core.types import UserFacingError
from bot.dispatch.services import Addressing
from storage import audit
from storage.models import Identity, Person, Role


@dataclass
class Context(Addressing):
    session: AsyncSession
    settings: Settings
    clock: Clock
    catalogs: Catalogs
    identity: Identity
    person: Person | None
    roles: frozenset[Role]
    locale: str
    # The commands this caller may use, in route-table order (for help and suggestions).
    commands: tuple[str, ...] = ()

    @property
    def t(self) -> Translator:
        return self.catalogs.translator(self.locale)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def timezone(self) -> str:
        tz = self.person.timezone if self.person else None
        return tz or self.settings.default_timezone

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.timezone, self.settings.default_timezone)

    @property
    def today(self) -> date:
        """The caller's own calendar date, in their time zone."""
        return local_date(self.now, self.zone)

    @property
    def me(self) -> Person:
        """The caller's person; routes that need one are only reached by linked identities."""
        if self.person is None:
            raise UserFacingError("error.not_joined")
        return self.person

    def command(self, name: str) -> str:
        """How this person types a command where they are: Slack has one slash command."""
        return platform(self.identity.channel).command_prefix + name

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    async def audit(
        self, action: str, target: str | None = None, *, allowed: bool = True, **detail: Any
    ) -> None:
        actor = self.person.id if self.person else None
        await audit.record(self.session, self.now, actor, action, target, allowed=allowed, **detail)
