"""Housekeeping: forget processed inbound event ids and button tokens past their keeping time."""

from __future__ import annotations

from bot.dispatch.services import Services
from storage import buttons, inbound


async def housekeeping(services: Services) -> int:
    now = services.clock.now()
    return await inbound.forget_old(services.db, now) + await buttons.forget_old(services.db, now)
