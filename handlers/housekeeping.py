"""Housekeeping: forget seen request signatures, handled inbox items and button tokens past their
keeping time."""

from __future__ import annotations

from bot.dispatch.services import Services
from storage import buttons, inbound, inbox


async def housekeeping(services: Services) -> int:
    now, db = services.clock.now(), services.db
    forgotten = await inbound.forget_old(db, now) + await inbox.forget_old(db, now)
    return forgotten + await buttons.forget_old(db, now)
