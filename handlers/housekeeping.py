"""Housekeeping: forget seen request signatures, handled inbox items, button tokens, and the web
console's used or expired login links and ended sessions, past their keeping time."""

from __future__ import annotations

from bot.dispatch.services import Services
from storage import buttons, console_web, inbound, inbox


async def housekeeping(services: Services) -> int:
    now, db = services.clock.now(), services.db
    forgotten = await inbound.forget_old(db, now) + await inbox.forget_old(db, now)
    forgotten += await console_web.forget_old(db, now)
    return forgotten + await buttons.forget_old(db, now)
