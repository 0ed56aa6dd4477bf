"""Referrals and alumni's own interest in an opening: HR's pipeline, its one-way stages, and the
candidate key that catches the same person referred twice for the same opening."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.forms import EMAIL
from storage.models import Opening, Person, Referral
from storage.outbox import insert_ignore

STAGES = ("submitted", "screening", "interview", "offer", "hired")
DECLINED = "declined"
FINAL = frozenset({"hired", DECLINED})
PHONE_JUNK = re.compile(r"[\s\-‐‑–—−ー().]")
PHONE = re.compile(r"^\+?\d{10,15}$")


def contact_key(contact: str) -> tuple[str, str] | None:
    """(the contact as it is kept, its duplicate key) for an email or a phone number; None when
    it is neither. `+81 90-1234-5678` and `090 1234 5678` are the same key."""
    text = unicodedata.normalize("NFKC", contact).strip()
    if "@" in text:
        return (text, text.lower()) if EMAIL.match(text) else None
    digits = PHONE_JUNK.sub("", text)
    if not PHONE.match(digits):
        return None
    if digits.startswith("+81"):
        digits = "0" + digits[3:]
    return text, "tel:" + digits.lstrip("+")


def next_stages(status: str) -> tuple[str, ...]:
    """Where a referral may go from `status`: the next stage, and declined, never backwards."""
    if status in FINAL or status not in STAGES:
        return ()
    return (STAGES[STAGES.index(status) + 1], DECLINED)


def move_problem(status: str, to: str) -> str | None:
    """The message key (referrals.po) refusing a move, or None when it is allowed."""
    if to not in (*STAGES, DECLINED):
        return "error.expired_button"
    if status == to:
        return "referrals.already_there"
    if status in FINAL:
        return "referrals.final"
    if to != DECLINED and STAGES.index(to) < STAGES.index(status):
        return "referrals.backwards"
    return None


async def add(
    session: AsyncSession,
    *,
    opening_id: int,
    kind: str,
    referrer_id: int | None,
    candidate_person_id: int | None,
    candidate_name: str,
    contact: str | None,
    key: str,
    relationship: str | None,
    why: str | None,
    now: datetime,
) -> Referral | None:
    """The new referral, or None when this candidate is already in this opening's pipeline."""
    result = await session.execute(
        insert_ignore(session, Referral.__table__).values(
            opening_id=opening_id,
            kind=kind,
            referrer_id=referrer_id,
            candidate_person_id=candidate_person_id,
            candidate_name=candidate_name,
            candidate_contact=contact,
            candidate_key=key,
            relationship=relationship,
            why=why,
            status=STAGES[0],
            created_at=now,
            updated_at=now,
        )
    )
    assert isinstance(result, CursorResult)
    if not result.rowcount:
        return None
    query = select(Referral).where(Referral.opening_id == opening_id, Referral.candidate_key == key)
    return (await session.scalars(query)).one()


@dataclass
class Line:
    referral: Referral
    opening: Opening
    referrer: str | None


async def pipeline(
    session: AsyncSession, opening_id: int | None = None, limit: int = 20, offset: int = 0
) -> list[Line]:
    """Active referrals first (oldest first: they waited longest), then the finished ones;
    `offset` rows skipped (the web console's pages)."""
    finished = case((Referral.status.in_(FINAL), 1), else_=0)
    query = (
        select(Referral, Opening, Person.name)
        .join(Opening, Referral.opening_id == Opening.id)
        .outerjoin(Person, Referral.referrer_id == Person.id)
        .order_by(finished, Referral.id)
        .offset(offset)
        .limit(limit)
    )
    if opening_id is not None:
        query = query.where(Referral.opening_id == opening_id)
    rows = await session.execute(query)
    return [Line(r, o, name) for r, o, name in rows.all()]


async def stage_counts(session: AsyncSession) -> dict[str, int]:
    """How many referrals (and interests) stand at each stage, every stage present."""
    query = select(Referral.status, func.count()).group_by(Referral.status)
    found = {str(s): int(n) for s, n in (await session.execute(query)).all()}
    return {stage: found.get(stage, 0) for stage in (*STAGES, DECLINED)}
