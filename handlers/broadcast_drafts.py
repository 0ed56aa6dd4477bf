"""Composing a broadcast, shared by the chat's form and the web console: checking the text and
the segment, saving the draft with its count by language, and taking a draft back. Sending it
is handlers/broadcasts.py's `send`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.normalize import number as as_number
from bot.core.settings import LOCALES, Settings
from bot.core.types import UserFacingError
from storage import broadcasts as store
from storage.models import Broadcast

MAX_TEXT = 3000  # Slack section text; Telegram allows 4096
INTERESTED = "interested"
MAX_ID = 2**31 - 1


class BadDraft(ValueError):
    """A compose form's field is wrong: `field` names it, `key` says why (a catalog key)."""

    def __init__(self, field: str, key: str, **params: Any) -> None:
        super().__init__(key)
        self.field, self.key, self.params = field, key, params


@dataclass(frozen=True)
class Draft:
    broadcast: Broadcast
    total: int
    counts: dict[str, int]  # by language of LOCALES (no choice counts as the default)


def by_language(settings: Settings, by_locale: dict[str | None, int]) -> dict[str, int]:
    counts = {loc: by_locale.get(loc, 0) for loc in LOCALES}
    counts[settings.default_locale] += sum(n for k, n in by_locale.items() if k not in LOCALES)
    return counts


async def make_draft(
    session: AsyncSession,
    settings: Settings,
    *,
    author_id: int,
    text: str,
    kind: str,
    target: str,
    urgent: bool,
    now: datetime,
) -> Draft | None:
    """Check a composed broadcast and save it as a draft with its count, for the chat's form
    and the web console alike; None when the segment reaches nobody (nothing saved).
    Raises BadDraft for a missing text or a bad segment."""
    text = text.strip()
    if not text:
        raise BadDraft("text", "form.required")
    if len(text) > MAX_TEXT:
        raise BadDraft("text", "form.too_long", max=MAX_TEXT)
    try:
        segment = store.parse_segment(kind, target)
        await store.check_segment(session, segment)
    except store.BadSegment as exc:
        raise BadDraft("segment" if exc.key == "broadcasts.bad_segment" else "target",
                       exc.key) from None  # fmt: skip
    by_locale = await store.count(session, segment)
    total = sum(by_locale.values())
    if total == 0:
        return None
    draft = store.create(session, author_id=author_id, text=text, segment=segment,
                         urgent=urgent, now=now, buttons=[INTERESTED])  # fmt: skip
    await session.flush()
    return Draft(draft, total, by_language(settings, by_locale))


async def draft_of(session: AsyncSession, number: str) -> Broadcast:
    """A draft by its number, locked on PostgreSQL so that two Sends (a double click, a
    second tab) cannot both queue it; UserFacingError when unknown or no longer a draft."""
    draft_id = as_number(number)
    if draft_id is None:
        raise UserFacingError("broadcasts.unknown")
    found = await session.get(Broadcast, draft_id, with_for_update=True,
                              populate_existing=True)  # fmt: skip
    if found is None:
        raise UserFacingError("broadcasts.unknown")
    if found.status != "draft":
        raise UserFacingError("broadcasts.not_draft", id=found.id)
    return found


async def discard(session: AsyncSession, number: str) -> Broadcast:
    """Cancel a draft before it is sent."""
    draft = await draft_of(session, number)
    draft.status = "cancelled"
    return draft
