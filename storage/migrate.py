"""Alembic, driven from code: `alumni-bot db upgrade` and the SQLite self-upgrade on start."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.db import Database


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("storage") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def _upgrade(connection: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _downgrade(connection: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(db: Database, revision: str = "head") -> None:
    cfg = alembic_config(db.engine.url.render_as_string(hide_password=False))
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade, cfg, revision)


async def downgrade(db: Database, revision: str) -> None:
    cfg = alembic_config(db.engine.url.render_as_string(hide_password=False))
    async with db.engine.begin() as conn:
        await conn.run_sync(_downgrade, cfg, revision)


async def is_current(db: Database) -> bool:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    async with db.engine.connect() as conn:
        return await conn.run_sync(_current) == head
