"""Alembic, driven from code: `alumni-bot db upgrade`, `db revision`, and the SQLite self-upgrade
on start."""

from __future__ import annotations

import functools
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

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


@functools.cache
def _head_at(_versions_mtime_ns: int) -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def head() -> str | None:
    """The newest revision: reading the scripts costs ~20 ms, so once a process, and again
    only when a file in `versions/` is added or removed (`db revision`)."""
    versions = Path(str(resources.files("storage") / "migrations" / "versions"))
    return _head_at(versions.stat().st_mtime_ns)


async def is_current(db: Database) -> bool:
    async with db.engine.connect() as conn:
        return await conn.run_sync(_current) == head()


def _revision(connection: Connection, cfg: Config, message: str) -> Path | None:
    cfg.attributes["connection"] = connection
    script = ScriptDirectory.from_config(cfg)
    # After the highest number, not the count: a branch's migration may skip a number that
    # another branch takes (they are re-chained when merged).
    numbers = [int(r.revision) for r in script.walk_revisions() if r.revision.isdigit()]
    number = max(numbers, default=0) + 1
    empty: list[bool] = []

    def skip_if_empty(_context: Any, _revision: Any, directives: list[Any]) -> None:
        if directives[0].upgrade_ops.is_empty():
            directives[:] = []
            empty.append(True)

    cfg.attributes["process_revision_directives"] = skip_if_empty
    made = command.revision(cfg, message=message, autogenerate=True, rev_id=f"{number:04d}")
    if empty or made is None:
        return None
    first = made[0] if isinstance(made, list) else made
    return Path(first.path) if first is not None else None


async def revision(message: str) -> Path | None:
    """Write a new migration by comparing the models with a scratch SQLite database upgraded
    to head (no real database is needed or touched); None when the models add nothing."""
    with tempfile.TemporaryDirectory() as scratch:
        db = Database.connect(f"sqlite:///{scratch}/scratch.db")
        try:
            await upgrade(db)
            cfg = alembic_config(db.engine.url.render_as_string(hide_password=False))
            async with db.engine.begin() as conn:
                return await conn.run_sync(_revision, cfg, message)
        finally:
            await db.close()
