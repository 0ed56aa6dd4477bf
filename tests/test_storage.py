"""The schema comes from migrations alone, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from bot.core.settings import SettingsError, load_settings
from bot.runtime.app import App
from storage import buttons, identities, migrate
from storage.db import Database, async_url
from storage.models import Base, Interaction, Person


async def test_migrations_create_exactly_the_models_and_go_back_down(database_url: str) -> None:
    db = Database.connect(database_url)
    try:
        await migrate.downgrade(db, "base")
        async with db.engine.connect() as conn:
            left = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
        await migrate.upgrade(db)
        assert await migrate.is_current(db)
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables - {"alembic_version"} == set(Base.metadata.tables)
    finally:
        await db.close()


async def test_times_come_back_as_aware_utc(app: App) -> None:
    tokyo = timezone(timedelta(hours=9))
    async with app.db.transaction() as session:
        person = Person(name="X", consent_at=datetime(2026, 1, 1, 9, 0, tzinfo=tokyo))
        session.add(person)
    async with app.db.transaction() as session:
        again = await session.get(Person, person.id)
        assert again is not None and again.consent_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
        assert again.consent_at.tzinfo is not None


async def test_an_interaction_is_stored_once_per_pair_day_and_kind(app: App) -> None:
    async with app.db.transaction() as session:
        a, b = Person(name="A"), Person(name="B")
        session.add_all([a, b])
        await session.flush()
        ids = (a.id, b.id)
    with pytest.raises(IntegrityError):
        async with app.db.transaction() as session:
            for _ in range(2):
                session.add(Interaction(person_a=ids[0], person_b=ids[1], kind="online",
                                        occurred_on=date(2026, 1, 1), source="log"))  # fmt: skip


def test_database_urls_pick_async_drivers() -> None:
    assert async_url("sqlite:///alumni.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert async_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert async_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


async def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(sqlite_app: App) -> None:
    async with sqlite_app.db.engine.connect() as conn:
        mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
        timeout = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        keys = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    assert (mode, timeout, keys) == ("wal", 10_000, 1)


async def test_the_migrations_and_the_models_agree_column_by_column(database_url: str) -> None:
    """A model changed without a migration (or the other way round) shows up here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = Database.connect(database_url)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
    finally:
        await db.close()
    assert diff == []


async def test_upgrading_tidies_labels_typed_full_width(database_url: str) -> None:
    """Migration 0004: profiles stored before tidying are found by segments afterwards."""
    db = Database.connect(database_url)
    try:
        await migrate.downgrade(db, "0003")
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO people (email, name, department, title, skills, desired_roles,"
                    " comeback, paused, opt_outs, checkin_cadence, created_at, updated_at)"
                    " VALUES ('a@example.com', 'A', 'ＩＴ　部', 'リーダー', :skills, '[]',"
                    " 'unknown', false, '[]', 'monthly', :now, :now)"
                ),
                {"skills": '["ｐｙｔｈｏｎ", "Python", "ｴｸｾﾙ"]', "now": datetime(2026, 1, 1)},
            )
        await migrate.upgrade(db)
        async with db.engine.connect() as conn:
            row = (await conn.execute(text("SELECT department, title, skills FROM people"))).one()
        skills = row.skills if isinstance(row.skills, list) else json.loads(row.skills)
        assert (row.department, row.title, skills) == ("IT 部", "リーダー", ["python", "エクセル"])
    finally:
        await db.close()


async def test_upgrading_keeps_the_names_slack_installations_gave(database_url: str) -> None:
    """Migration 0005: a workspace installed before it is still named in profiles after it."""
    db = Database.connect(database_url)
    try:
        await migrate.downgrade(db, "0004")
        async with db.engine.begin() as conn:
            for name, day in (("Old name", 1), ("Alumni Club", 2)):  # reinstalled, renamed
                await conn.execute(
                    text(
                        "INSERT INTO slack_bots (client_id, app_id, team_id, team_name,"
                        " bot_token, bot_id, bot_user_id, is_enterprise_install, installed_at)"
                        " VALUES ('c', 'A1', 'T1', :name, 'xoxb', 'B1', 'U1', false, :at)"
                    ),
                    {"name": name, "at": datetime(2026, 1, day)},
                )
        await migrate.upgrade(db)
        async with db.sessions() as session:
            assert await identities.workspace_names(session) == {("slack", "T1"): "Alumni Club"}
    finally:
        await db.close()


def test_db_revision_writes_a_migration_for_what_the_models_add(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`alumni-bot db revision -m MSG` compares the models with a scratch database at head."""
    from sqlalchemy import Column, Integer, String, Table

    from bot.cli import main

    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert main(["db", "revision", "-m", "nothing"]) == 1
    assert "no changes" in capsys.readouterr().err
    table = Table(
        "scratch_things", Base.metadata, Column("id", Integer, primary_key=True),
        Column("label", String(50)),
    )  # fmt: skip
    written: Path | None = None
    try:
        assert main(["db", "revision", "-m", "add scratch things"]) == 0
        written = Path(capsys.readouterr().out.strip().splitlines()[-1])
        assert written.parent.name == "versions" and written.name.endswith("_add_scratch_things.py")
        source = written.read_text(encoding="utf-8")
        assert "op.create_table(" in source and "'scratch_things'" in source
        assert f"down_revision: str | None = '{head}'" in source  # written after the head
    finally:
        Base.metadata.remove(table)
        if written is not None:
            written.unlink(missing_ok=True)


async def test_button_tokens_issued_ahead_serve_only_their_message_and_owner(app: App) -> None:
    now = app.clock.now()
    ahead = buttons.Ahead(limit=2)
    yes, no = ("checkin.answer", "p"), ("checkin.answer", "no")
    await ahead.issue(app.db, [("m1", [yes, no], "u1"), ("m2", [yes], "u2"), ("m3", [], "u3")], now)
    assert ahead.take("m2", [yes], "someone else") is None  # never shown to another person
    assert ahead.take("m2", [yes], "u2") is None  # and taken once: it was given up above
    assert ahead.take("m1", [yes, ("other", "")], "u1") is None  # a button it does not cover
    await ahead.issue(app.db, [(f"k{n}", [yes], "u") for n in range(3)], now)
    assert len(ahead.tokens) == 2 and ahead.take("k0", [yes], "u") is None  # oldest forgotten
    tokens = ahead.take("k2", [yes], "u")
    assert tokens is not None
    assert await buttons.resolve(app.db, tokens[yes], now) == buttons.Pressed(*yes, "u")


async def test_the_settings_file_sizes_the_postgresql_pool(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three processes of 50 + 10 would pass PostgreSQL's default 100 connections: an operator
    lowers the pool in the settings file, and no process opens more than it allows."""
    config = tmp_path / "small-pool.toml"
    config.write_text("[database]\npool_size = 3\nmax_overflow = 1\n", encoding="utf-8")
    monkeypatch.setenv("ALUMNI_BOT_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", pg_url)
    app = App.build(load_settings())
    pool = app.db.engine.pool
    try:
        sessions = [app.db.sessions() for _ in range(4)]
        for session in sessions:  # four at once: three kept, one overflow
            await session.execute(text("SELECT 1"))
        assert pool.checkedout() == 4  # type: ignore[attr-defined]
        for session in sessions:
            await session.close()
        assert pool.checkedin() == 3  # type: ignore[attr-defined]  # the overflow one closed
    finally:
        await app.close()
    config.write_text("[database]\npool_size = 0\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"database\.pool_size"):
        load_settings()
