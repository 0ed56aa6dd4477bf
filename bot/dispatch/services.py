"""What features' scheduled work gets: settings, the database, the catalogs and the clock.

Narrower than `App` (which adds the dispatcher and lives in the runtime), so handlers depend on
the layer below them, never on the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.clock import Clock
from bot.core.i18n import Catalogs
from bot.core.settings import Settings
from storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    catalogs: Catalogs
    clock: Clock
