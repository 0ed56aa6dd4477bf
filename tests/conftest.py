"""Fixtures: an `app` on SQLite and on PostgreSQL, a fixed clock, and dialogs.

PostgreSQL tests use the server on 127.0.0.1:5432 (database `test`) through a database of their
own, created for this run and dropped after it, so parallel runs never collide. Where no server
can be reached they are skipped with a loud reason, except under CI (CI=true), where that is a
failure: CI must run them."""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import AliasChoices
from sqlalchemy import text

from bot.core.clock import FixedClock
from bot.core.platforms import PLATFORMS
from bot.core.settings import Settings
from bot.runtime.app import App
from storage import demo, migrate
from storage.db import Database
from storage.models import Base
from tests.support.dialog import Chat

for _platform in PLATFORMS:  # their tables join the metadata that is emptied between tests
    if _platform.tables:
        importlib.import_module(_platform.tables)

PG_ADMIN_URL = os.environ.get("ALUMNI_BOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _contract_vars() -> frozenset[str]:
    """Every environment variable Settings reads (its field names, which pydantic-settings
    reads case-insensitively, and their aliases), and the config file's."""
    names = {"ALUMNI_BOT_CONFIG"}
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        names.update(c.upper() for c in choices if isinstance(c, str))
    return frozenset(names)


CONTRACT_VARS = _contract_vars()
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost", "0.0.0.0", "")


def _local(host: object) -> bool:
    return isinstance(host, str) and (host in LOCAL_HOSTS or host.startswith("127."))


def _guarded_connect(connect: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            raise OSError(f"a test tried to reach {address[0]}: only 127.0.0.1 is allowed")
        return connect(sock, address)

    return guarded


def _guarded_getaddrinfo(getaddrinfo: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not _local(name):
            raise socket.gaierror(f"a test tried to look up {name}: no test reaches the internet")
        return getaddrinfo(host, *args, **kwargs)

    return guarded


def pytest_configure(config: pytest.Config) -> None:
    """No test reaches the internet: connecting or resolving anything but loopback fails."""
    socket.socket.connect = _guarded_connect(socket.socket.connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect(socket.socket.connect_ex)  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo(socket.getaddrinfo)


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CONTRACT_VARS:
        monkeypatch.delenv(name, raising=False)


async def _pg_create() -> str | None:
    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    name = f"alumni_test_{uuid.uuid4().hex[:10]}"
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    db = Database.connect(url)
    await migrate.upgrade(db)
    await db.close()
    return url


async def _pg_drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = asyncio.run(_pg_create())
    if url is None:
        message = f"PostgreSQL NOT REACHABLE at {PG_ADMIN_URL}: PostgreSQL tests NOT RUN"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield url
    asyncio.run(_pg_drop(url))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "alumni.db"
    db = Database.connect(f"sqlite:///{path}")
    asyncio.run(migrate.upgrade(db))
    asyncio.run(db.close())
    return path


DEMO_SIZE = 60  # people in `demo_company`


async def _load_demo(url: str) -> None:
    db = Database.connect(url)
    async with db.transaction() as session:
        await demo.load(session, FixedClock().now(), size=DEMO_SIZE)
    await db.close()


@pytest.fixture(scope="session")
def demo_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "alumni.db"
    shutil.copy(sqlite_template, path)
    asyncio.run(_load_demo(f"sqlite:///{path}"))
    return path


async def _truncate(url: str) -> None:
    db = Database.connect(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await db.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    company = "demo_company" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "alumni.db"
        template = "demo_template" if company else "sqlite_template"
        shutil.copy(request.getfixturevalue(template), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(_truncate(url))
    if company:
        asyncio.run(_load_demo(url))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "alumni.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def make_settings(database_url: str, **overrides: object) -> Settings:
    return Settings(database_url=database_url, **overrides)  # type: ignore[arg-type]


@pytest.fixture
async def app(database_url: str, clock: FixedClock) -> AsyncIterator[App]:
    application = App.build(make_settings(database_url), clock)
    yield application
    await application.close()


@pytest.fixture
def demo_company(app: App) -> App:
    """`app` on a database that starts with the demo company (DEMO_SIZE people, loaded at the
    fixed clock's now): on SQLite a copy of a file loaded once per session, which the console's
    tests, about fifty of them, would otherwise each spend 0.4 s of CPU loading."""
    return app


@pytest.fixture
async def sqlite_app(sqlite_url: str, clock: FixedClock) -> AsyncIterator[App]:
    application = App.build(make_settings(sqlite_url), clock)
    yield application
    await application.close()


def chat(app: App, user_id: str, **kwargs: object) -> Chat:
    return Chat(app.dispatcher, user_id, **kwargs)  # type: ignore[arg-type]


# Modules whose tests start the bot as real processes (the CLI, serve, worker): `processes`.
PROCESS_MODULES = frozenset({"test_cli", "test_serve_crash", "test_slack_serve", "test_worker"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the PostgreSQL server directly are `postgres` too, like the database_url
    param: `pytest -m "not postgres"` then never touches PostgreSQL. Tests of real processes
    are `processes`: the fast loop leaves them out (CONTRIBUTING.md)."""
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
        if item.path.stem in PROCESS_MODULES:
            item.add_marker(pytest.mark.processes)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say it out loud when the PostgreSQL half of the suite did not run."""
    skipped = terminalreporter.stats.get("skipped", [])
    missing = [r for r in skipped if "PostgreSQL NOT REACHABLE" in str(getattr(r, "longrepr", ""))]
    if missing:
        terminalreporter.write_sep(
            "!", f"{len(missing)} PostgreSQL tests NOT RUN: no server at {PG_ADMIN_URL}", red=True
        )
