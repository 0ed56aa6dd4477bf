"""Alembic environment. Migrations run on a connection handed over by storage/migrate.py (the
async engine's, through run_sync), or on one made from the configured URL."""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from bot.core.platforms import PLATFORMS
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
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or "sqlite:///alumni.db"
    sync_url = url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    with create_engine(sync_url).connect() as conn:
        _run(conn)
        conn.commit()
