"""A throwaway database for a benchmark: a temporary SQLite file, or a new PostgreSQL database
created next to the one named (and dropped afterwards), so runs never touch real data."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from storage import migrate
from storage.db import Database


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    if not server_url.startswith("postgres"):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            await _upgrade(url)
            yield url
        return
    admin = server_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"alumni_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        await _upgrade(url)
        yield url
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def _upgrade(url: str) -> None:
    db = Database.connect(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.close()
