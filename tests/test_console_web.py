"""Signing in to the web console: a one-time link from chat `admin` or `admin-link EMAIL`,
good once and for 15 minutes, for HR and admins only, every issue and refusal audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.core.clock import FixedClock
from bot.runtime.app import App
from storage import console_web
from storage.models import AuditEntry, LoginLink
from tests.support.members import member
from tests.support.people import load_company

LINK = re.compile(r"https?://\S+/admin/login/([A-Za-z0-9_-]+)")


def token_in(text: str) -> str:
    found = LINK.search(text)
    assert found, text
    return found.group(1)


async def redeem(app: App, token: str) -> console_web.Redeemed:
    async with app.db.transaction() as session:
        return await console_web.redeem_link(session, token, app.clock.now())


async def test_hr_asks_in_chat_and_the_link_signs_in_once(app: App) -> None:
    await load_company(app)
    hr = await member(app, "hr@example.com", "202", locale="ja")
    reply = await hr.say("/admin")
    assert "15 分間" in reply
    token = token_in(reply)
    first = await redeem(app, token)
    assert first.ok and first.person_id is not None
    assert (await redeem(app, token)).reason == "used"
    async with app.db.transaction() as session:
        stored = list(await session.scalars(select(LoginLink.token_hash)))
        audited = list(await session.scalars(select(AuditEntry.action)))
    assert token not in stored and console_web.digest(token) in stored  # hashed at rest
    assert "admin_link" in audited


async def test_a_link_expires_after_15_minutes(app: App, clock: FixedClock) -> None:
    await load_company(app)
    admin = await member(app, "admin@example.com", "201", locale="en")
    token = token_in(await admin.say("/admin"))
    clock.advance(minutes=15)
    assert (await redeem(app, token)).reason == "expired"
    assert (await redeem(app, "not-a-token")).reason == "unknown"


async def test_links_are_rate_limited(app: App, clock: FixedClock) -> None:
    await load_company(app)
    hr = await member(app, "hr@example.com", "202", locale="ja")
    for _ in range(console_web.LINKS_PER_LIFETIME):
        token_in(await hr.say("/admin"))
    refused = await hr.say("/admin")
    assert "/admin/login/" not in refused and "15 分間" in refused
    clock.advance(minutes=15)
    token_in(await hr.say("/admin"))


async def test_an_alumna_gets_no_link(app: App) -> None:
    await load_company(app)
    hanako = await member(app, "hanako@example.com", "203", locale="ja")
    reply = await hanako.say("/admin")
    assert "/admin/login/" not in reply
    async with app.db.transaction() as session:
        assert list(await session.scalars(select(LoginLink))) == []


def test_admin_link_on_the_command_line(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("PUBLIC_URL", "https://alumni.example.com")
    assert main(["demo"]) == 0
    capsys.readouterr()
    assert main(["admin-link", "hr@example.com"]) == 0
    assert capsys.readouterr().out.strip().startswith("https://alumni.example.com/admin/login/")
    assert main(["admin-link", "nobody@example.com"]) != 0
    assert "nobody" in capsys.readouterr().err
