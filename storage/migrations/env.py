"""Alembic environment. Migrations run on a connection handed over by storage/migrate.py (the
async engine's, through run_sync), or on one made from the configured URL."""

from __future__ import annotations

import asyncio
import importlib

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bot.core.platforms import PLATFORMS
from storage.db import async_url
from storage.models import Base

for _platform in PLATFORMS:  # the tables a platform's SDK keeps, declared in its package
    if _platform.tables:
        importlib.import_module(_platform.tables)

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        process_revision_directives=config.attributes.get("process_revision_directives"),
    )
    with context.begin_transaction():
        context.run_migrations()


async def _online(url: str) -> None:
    """Run from the `alembic` command line itself: the project's own async drivers."""
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_online(config.get_main_option("sqlalchemy.url") or "sqlite:///alumni.db"))
