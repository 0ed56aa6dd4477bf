"""Engines and sessions. SQLite by default (WAL, busy timeout, foreign keys on); PostgreSQL by
DATABASE_URL. The project picks the async driver from the URL's scheme."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

SQLITE_BUSY_TIMEOUT_MS = 10_000

# PostgreSQL's pool. `serve` takes bursts of 50 updates at once (a broadcast's answers, a
# channel's webhooks): a pool of 10 + 20 overflow opened about 23 connections a burst and closed
# 21 again (overflow connections are closed as soon as they are returned), each a TCP connect,
# authentication and asyncpg's set-up. 50 kept stay open between bursts; the pool opens them
# only when they are used at once, so a worker or the scheduler keeps the few it needs. 10 more
# for a longer burst (then closed). PostgreSQL allows 100 connections by default: two busy
# processes fit; more `serve` processes need a bigger max_connections, PgBouncer, or a smaller
# pool: `[database] pool_size` and `max_overflow` in the settings file (these are the defaults).
POOL_SIZE = 50
POOL_OVERFLOW = 10
# No pre-ping: it cost a round trip on every checkout, to catch connections the server or a
# firewall closed. Connections are recycled after 30 minutes instead (checked at checkout from
# their age, no round trip), well inside idle timeouts of proxies and firewalls; one that died
# anyway (a server restart) fails the transaction using it, SQLAlchemy then discards every
# connection opened before, and the inbox and the worker retry that work.
POOL_RECYCLE_S = 1800


def async_url(database_url: str) -> URL:
    """`sqlite:///x.db` → aiosqlite, `postgresql://…` → asyncpg; explicit drivers are kept."""
    url = make_url(database_url)
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return url.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql" and driver in ("", "psycopg2"):
        return url.set(drivername="postgresql+asyncpg")
    return url.set(drivername=f"{backend}+{driver}" if driver else backend)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # Take transaction control from the driver so SAVEPOINTs work and every transaction holds
    # the write lock from its start: with one writer at a time, a read that later writes can
    # never fail with SQLITE_BUSY halfway (SQLAlchemy's documented recipe for pysqlite/aiosqlite).
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(
    database_url: str, pool_size: int = POOL_SIZE, max_overflow: int = POOL_OVERFLOW
) -> AsyncEngine:
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=POOL_RECYCLE_S
    )


class CountingSession(Session):
    """A session that counts the statements it ran that change rows (each flush that wrote,
    each INSERT, UPDATE or DELETE executed): `writes`."""


@event.listens_for(CountingSession, "after_flush")
def _flushed(session: Session, _flush: UOWTransaction) -> None:
    session.info["writes"] = session.info.get("writes", 0) + 1


@event.listens_for(CountingSession, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["writes"] = state.session.info.get("writes", 0) + 1


def writes(session: AsyncSession) -> int:
    """How many times this session has written so far, pending changes aside (see
    `CountingSession`): a step that must not have written compares the count before and after."""
    return int(session.info.get("writes", 0))


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(
        cls, database_url: str, pool_size: int = POOL_SIZE, max_overflow: int = POOL_OVERFLOW
    ) -> Database:
        """PostgreSQL's pool holds `pool_size` connections, and `max_overflow` more for a while;
        SQLite has none to size."""
        engine = make_engine(database_url, pool_size, max_overflow)
        return cls(
            engine,
            async_sessionmaker(engine, expire_on_commit=False, sync_session_class=CountingSession),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
