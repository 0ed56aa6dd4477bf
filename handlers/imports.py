"""Bulk import of a CSV file (`alumni-bot import KIND FILE.csv` and the console's Import page):
all or nothing, with everything importing does after (a leaver's hand-over, openings matched and
announced), in the caller's transaction. A bad file raises `storage.importer.ImportFailed`
with its rows' line numbers, and nothing is written."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.dispatch.services import Services
from storage import importer
from storage.importer import ImportResult, Progress

KINDS = ("people", "relations", "openings")  # `outcomes` has its own loader (bot/cli/outcomes.py)


async def run(
    services: Services,
    session: AsyncSession,
    kind: str,
    data: bytes,
    now: datetime,
    progress: Progress | None = None,
) -> ImportResult:
    from handlers import bridge, jobs

    if kind == "people":
        result = await importer.import_people(session, data, now, progress)
        if result.newly_left:  # left_on newly set: the hand-over
            await bridge.after_import(
                session, services.catalogs, services.settings, result.newly_left, now
            )
        return result
    if kind == "relations":
        return await importer.import_relations(session, data, now, progress)
    if kind == "openings":
        return await jobs.openings_importer(services)(session, data, now, progress)
    raise ValueError(f"unknown import kind {kind!r}")
