"""Japanese and English messages from Babel catalogs: `config/locales/<ll>/LC_MESSAGES/*.po`,
one gettext domain per feature (core, onboarding, privacy, checkins, …) so features do not
edit each other's files.

Messages are looked up by key (`help.title`), formatted with `str.format`, and every key exists
in both languages (a test checks the keys and their placeholders match)."""

from __future__ import annotations

import functools
import logging
import string
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po

from bot.core import markup
from bot.core.settings import LOCALES

log = logging.getLogger(__name__)


@functools.cache  # package data: read once a process (every App, and each test, builds one)
def _load(locale: str) -> dict[str, str]:
    folder = resources.files("config") / "locales" / locale / "LC_MESSAGES"
    messages: dict[str, str] = {}
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".po"):
            continue
        with path.open("rb") as f:
            catalog = read_po(f, locale=locale, domain=path.name.removesuffix(".po"))
        for m in catalog:
            if m.id and m.string:
                key = str(m.id)
                if key in messages:
                    raise ValueError(f"message {key!r} is defined twice ({path.name})")
                messages[key] = markup.from_template(str(m.string))
    return messages


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


@dataclass(frozen=True)
class Catalogs:
    messages: dict[str, dict[str, str]]

    @classmethod
    def load(cls) -> Catalogs:
        return cls({locale: dict(_load(locale)) for locale in LOCALES})

    def text(self, locale: str, key: str, **params: Any) -> str:
        message = self.messages.get(locale, {}).get(key)
        if message is None:
            log.error("missing message %r for locale %s", key, locale)
            message = self.messages["en"].get(key, key)
        try:
            return message.format(**params)
        except (KeyError, IndexError, ValueError):
            log.exception("message %r (%s) does not fit its parameters", key, locale)
            return message

    def translator(self, locale: str) -> Translator:
        return Translator(self, locale)

    def for_person(self, chosen: str | None, default: str) -> Translator:
        """Messages for someone else: in the language they chose, else the default."""
        return self.translator(pick_locale(chosen, None, default))


@dataclass(frozen=True)
class Translator:
    catalogs: Catalogs
    locale: str

    def __call__(self, key: str, **params: Any) -> str:
        return self.catalogs.text(self.locale, key, **params)

    def date(self, value: date) -> str:
        return format_date(value, format="medium", locale=Locale.parse(self.locale))

    def datetime(self, value: datetime, timezone: str) -> str:
        return format_datetime(
            value, format="medium", tzinfo=ZoneInfo(timezone), locale=Locale.parse(self.locale)
        )


def pick_locale(chosen: str | None, hint: str | None, default: str) -> str:
    """The person's choice, else the platform's language (`ja-JP`, `en_US`…), else the default."""
    for candidate in (chosen, hint):
        if candidate:
            short = candidate.replace("_", "-").split("-")[0].lower()
            if short in LOCALES:
                return short
    return default
