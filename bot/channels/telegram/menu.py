"""Telegram's command menu: everyone's, per language, and HR's and admins' own.

The default scope (language ja, en, and none for any other) lists the commands anyone who
joined can use. A person granted HR or admin gets a menu of their own for their private chat
(Bot API scope `chat`; a private chat's id is the user's id) listing their commands too, in the
language they chose. Those are set when the bot starts, for everyone with such a role and a
Telegram identity, and again whenever someone's roles differ from what this process last set
for them: a grant or a revocation shows in the menu after their next message. Roles come from
the dispatcher, which reads them anyway (no query of our own per message). The menu is a
convenience: failing to set it is logged, never a reason to fail anything."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from telegram import BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot.core.types import Actor
from bot.runtime.app import App
from storage import people
from storage.models import Identity, Person, Role

log = logging.getLogger(__name__)

NAME = "telegram"
STAFF = frozenset({Role.HR, Role.ADMIN})
Key = tuple[tuple[str, ...], str]  # (staff roles, locale) a chat's menu was set for


class Menus:
    def __init__(self, app: App, bot: ExtBot[None]) -> None:
        self.app, self.bot = app, bot
        self.chats: dict[int, Key] = {}  # what this process set (or knows is right) per chat
        self.wanted: dict[int, tuple[frozenset[Role], str]] = {}  # seen, not yet compared
        app.dispatcher.observers.append(self.seen)

    def _commands(self, locale: str, roles: frozenset[Role] | None) -> list[BotCommand]:
        """The menu of someone with `roles`; None: of anyone at all, joined or not."""
        router = self.app.dispatcher.router
        if roles is None:
            routes = router.routes
            names = tuple(r.command for r in routes if r.command and r.listed and not r.roles)
        else:
            names = router.visible(True, roles)
        catalogs = self.app.catalogs
        return [BotCommand(n, catalogs.text(locale, f"help.cmd.{n}")[:256]) for n in names]

    async def start(self) -> None:
        """Everyone's menu per language, then every HR's and admin's own."""
        targets: list[tuple[str, str | None]] = [("ja", "ja"), ("en", "en")]
        targets.append((self.app.settings.default_locale, None))  # any other language
        try:
            for locale, code in targets:
                everyone = self._commands(locale, None)
                await self.bot.set_my_commands(everyone, language_code=code)
        except TelegramError as exc:
            log.warning("telegram setMyCommands failed: %s", exc)
            return
        async with self.app.db.transaction() as session:
            staff = await session.scalars(
                select(Identity)
                .join(Person, Person.id == Identity.person_id)
                .where(Identity.channel == NAME, Person.grants.any())
                .options(selectinload(Identity.person).selectinload(Person.grants))
            )
            found = [(int(i.user_id), i.person) for i in staff if i.user_id.isdigit()]
        default = self.app.settings.default_locale
        for user_id, person in found:
            if person is not None:
                await self._update(user_id, people.roles_of(person), person.locale or default)

    def seen(self, actor: Actor, roles: frozenset[Role], locale: str) -> None:
        if actor.channel == NAME and actor.user_id.isdigit():
            self.wanted[int(actor.user_id)] = (roles, locale)

    async def refresh(self, user_id: int) -> None:
        """After a private message: set this person's menu again if their roles changed."""
        wanted = self.wanted.pop(user_id, None)
        if wanted is not None:
            await self._update(user_id, *wanted)

    async def _update(self, user_id: int, roles: frozenset[Role], locale: str) -> None:
        staff = tuple(sorted(r.value for r in roles & STAFF))
        key: Key = (staff, locale)
        known = self.chats.get(user_id)
        if known == key or (known is None and not staff):
            self.chats[user_id] = key  # nothing of their own to set, or already set
            return
        scope = BotCommandScopeChat(user_id)
        try:
            if staff:
                await self.bot.set_my_commands(self._commands(locale, roles), scope=scope)
            else:  # no longer HR or admin: back to everyone's menu
                await self.bot.delete_my_commands(scope=scope)
        except TelegramError as exc:
            log.warning("telegram menu for chat %s not set: %s", user_id, exc)
            return
        self.chats[user_id] = key
