"""Taking things back: a role (admins) and an invite code (HR), from chat and the command line,
each change and each refusal in the audit log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.runtime.app import App
from tests.conftest import chat
from tests.support.members import member
from tests.support.people import load_company
from tests.test_admin import audit_log
from tests.test_onboarding import invite_code


async def test_an_admin_grants_and_revokes_hr_and_the_last_admin_stays(app: App) -> None:
    await load_company(app)
    admin = await member(app, "admin@example.com", "201", locale="en")
    taro = await member(app, "taro@example.com", "202", locale="ja")
    assert "人事または管理者のみ" in await taro.say("/invite uses=5")

    assert "is now HR" in await admin.say("/grant taro@example.com hr")
    assert "招待コード" in await taro.say("/invite uses=5")
    assert "already is HR" in await admin.say("/grant taro@example.com hr")

    # HR may stop codes, not take roles: refused, and the refusal is audited.
    assert "管理者のみ利用できます" in await taro.say("/revoke admin@example.com admin")
    [refused] = [e for e in await audit_log(app, "refused") if e.target == "revoke"]
    assert refused.allowed is False

    assert "is no longer HR" in await admin.say("/revoke taro@example.com hr")
    assert "人事または管理者のみ" in await taro.say("/invite uses=5")
    assert "is not HR; nothing changed" in await admin.say("/revoke taro@example.com hr")
    assert "last admin" in await admin.say("/revoke admin@example.com admin")
    assert "only available to admins" not in await admin.say("/audit")  # still an admin
    assert "Usage: revoke CODE" in await admin.say("/revoke taro@example.com boss")
    assert "Nobody in the network" in await admin.say("/revoke ghost@example.com hr")

    changes = [(e.action, e.detail.get("role")) for e in await audit_log(app)]
    assert [c for c in changes if c[0] in ("grant", "revoke")] == [
        ("grant", "hr"), ("revoke", "hr")
    ]  # fmt: skip


async def test_a_revoked_invite_code_no_longer_joins_anyone(app: App) -> None:
    await load_company(app)
    code = await invite_code(app, "emma@example.com")
    hr = chat(app, "hr@example.com")
    assert f"{code} no longer works" in await hr.say(f"/revoke {code.lower()}")
    assert "already revoked" in await hr.say(f"/revoke {code}")
    assert "There is no invite code" in await hr.say("/revoke ZZZZZZZZ")
    [entry] = await audit_log(app, "revoke_invite")
    assert entry.detail["code"] == code and entry.allowed

    emma = chat(app, "301", channel="telegram")
    assert "この招待コードは無効です" in await emma.say(f"/start {code}")


async def test_hr_in_japanese_is_answered_in_japanese(app: App) -> None:
    await load_company(app)
    hr = await member(app, "hr@example.com", "401", locale="ja")
    [code] = re.findall(r"\b[A-Z2-9]{8}\b", await hr.say("/invite emma@example.com"))[:1]
    assert "を無効にしました" in await hr.say(f"/revoke {code}")
    assert "見つかりません" in await hr.say("/revoke ZZZZZZZZ")


def test_the_command_line_revokes_roles_and_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    assert main(["demo"]) == 0
    assert main(["grant", "taro@example.com", "hr"]) == 0
    assert main(["invite", "--email", "taro@example.com"]) == 0
    capsys.readouterr()
    assert main(["revoke", "taro@example.com", "hr"]) == 0
    assert "is no longer hr" in capsys.readouterr().out
    assert main(["invite", "--email", "taro@example.com"]) == 0
    code = re.findall(r"^[A-Z2-9]{8}$", capsys.readouterr().out, re.M)[0]
    assert main(["revoke", code]) == 0
    assert "no longer works" in capsys.readouterr().out
    assert main(["revoke", "ZZZZZZZZ"]) == 1
    assert main(["revoke", "nobody@example.com", "hr"]) == 1
