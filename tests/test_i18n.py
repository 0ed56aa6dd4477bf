"""Every message exists in Japanese and English, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from bot.core.i18n import Catalogs, pick_locale, placeholders
from handlers import ROUTES

ROOT = Path(__file__).resolve().parent.parent
STATIC_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z_]+)+)["']""")


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    catalogs = Catalogs.load()
    en, ja = catalogs.messages["en"], catalogs.messages["ja"]
    assert set(en) == set(ja), set(en) ^ set(ja)
    mismatched = {k for k in en if placeholders(en[k]) != placeholders(ja[k])}
    assert not mismatched


def test_every_key_the_code_uses_exists() -> None:
    catalogs = Catalogs.load()
    used: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(STATIC_KEY.findall(path.read_text(encoding="utf-8")))
    assert used, "the pattern finds nothing: the check would be empty"
    assert not used - set(catalogs.messages["en"])


def test_every_listed_command_has_a_help_line() -> None:
    catalogs = Catalogs.load()
    commands = {r.command for r in ROUTES if r.command and r.listed}
    assert {f"help.cmd.{c}" for c in commands} <= set(catalogs.messages["ja"])


def test_locale_choice() -> None:
    assert pick_locale(None, "ja-JP", "en") == "ja"
    assert pick_locale(None, "en_US", "ja") == "en"
    assert pick_locale("en", "ja", "ja") == "en"
    assert pick_locale(None, "fr", "ja") == "ja"
    assert pick_locale(None, None, "en") == "en"
