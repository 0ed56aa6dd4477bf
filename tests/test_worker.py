"""`alumni-bot worker --drain` as an operator runs it: a real process that runs the scheduled
work that is due (here a check-in) and delivers it through the real Telegram channel."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.cli import main
from bot.runtime.app import App
from storage.models import OutboxKind, OutboxMessage, OutboxState
from tests.conftest import make_settings
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.support.members import member, person, update_person
from tests.support.people import load_company


async def test_worker_drain_runs_due_checkins_and_delivers_them(sqlite_url: str) -> None:
    api = FakeTelegramAPI()
    await api.start()
    try:
        app = App.build(make_settings(sqlite_url))
        try:
            await load_company(app)
            await member(app, "hanako@example.com", "101", locale="ja")
            noon = time(12, 0)  # start == end: no quiet hours, whatever the real time is
            await update_person(
                app, "hanako@example.com", quiet_start=noon, quiet_end=noon,
                next_checkin_at=datetime.now(UTC) - timedelta(minutes=1),
            )  # fmt: skip
        finally:
            await app.close()
        api.started.add(101)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
        env.update(DATABASE_URL=sqlite_url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.api_url)
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "worker", "--drain", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(worker.communicate(), timeout=120)
        assert worker.returncode == 0, err.decode()
        assert any("お元気ですか" in text for text in api.texts(101)), api.texts(101)
        assert "nothing due" in out.decode()
    finally:
        await api.close()


async def test_worker_drain_does_not_say_nothing_due_while_messages_wait_on_leases(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another worker holds 150 messages: `--drain` says so, with one line, and exits 1."""
    api = FakeTelegramAPI()
    await api.start()
    try:
        app = App.build(make_settings(sqlite_url))
        try:
            await load_company(app)
            await member(app, "hanako@example.com", "101", locale="ja")
            hanako = await person(app, "hanako@example.com")
            now = datetime.now(UTC)
            async with app.db.transaction() as session:
                session.add_all(
                    OutboxMessage(
                        idempotency_key=f"held-{n}",
                        person_id=hanako.id,
                        payload={"text": "x"},
                        kind=OutboxKind.BROADCAST,
                        state=OutboxState.SENDING,
                        not_before=now,
                        lease_until=now + timedelta(minutes=5),
                        leased_by="other-worker",
                    )
                    for n in range(150)
                )
        finally:
            await app.close()
        monkeypatch.setenv("DATABASE_URL", sqlite_url)
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_API_URL", api.api_url)
        code = await asyncio.to_thread(main, ["worker", "--drain"])
        err = capsys.readouterr().err.strip()
        assert code == 1 and "\n" not in err
        assert "not drained: 150 messages are leased by another worker" in err
        assert api.texts(101) == []
    finally:
        await api.close()
