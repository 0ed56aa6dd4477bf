"""Perks in the database: who is eligible, which are valid today, handing out codes.

A claim is one row per perk and person (a unique constraint), inserted with ON CONFLICT DO
NOTHING so a double tap or two devices at once count once. The next unused code is taken with
`FOR UPDATE SKIP LOCKED` (PostgreSQL), so concurrent claims each get a different code without
queueing behind one another; when every free code is locked by someone else the claim waits
for them once, so "codes out" is only said when they really are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Perk, PerkClaim, PerkCode, Person
from storage.outbox import insert_ignore

ELIGIBILITY = ("all", "tenure", "department")


class Refused(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def tenure_months(person: Person) -> int | None:
    """Whole months between joining and leaving (or today's employment: not an alumnus)."""
    if person.joined_on is None or person.left_on is None:
        return None
    start, end = person.joined_on, person.left_on
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - (1 if end.day < start.day else 0)


def eligible(perk: Perk, person: Person) -> bool:
    """Perks are for alumni; the perk's rule narrows them further."""
    if not person.is_alumnus or person.is_forgotten:
        return False
    match perk.eligibility:
        case "tenure":
            months = tenure_months(person)
            return months is not None and months >= (perk.min_tenure_months or 0)
        case "department":
            return (person.department or "").casefold() == (perk.department or "").casefold()
        case _:
            return True


def _valid(day: date) -> list[ColumnElement[bool]]:
    return [
        or_(Perk.valid_from.is_(None), Perk.valid_from <= day),
        or_(Perk.valid_until.is_(None), Perk.valid_until >= day),
    ]


async def get(session: AsyncSession, perk_id: int) -> Perk | None:
    return await session.get(Perk, perk_id)


async def active(session: AsyncSession, day: date, limit: int = 50) -> list[Perk]:
    """Perks valid on `day`, newest first (expired ones disappear)."""
    query = select(Perk).where(*_valid(day)).order_by(Perk.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def recent(session: AsyncSession, limit: int = 20, offset: int = 0) -> list[Perk]:
    query = select(Perk).order_by(Perk.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(query)).all())


def add_codes(session: AsyncSession, perk: Perk, codes: Sequence[str]) -> None:
    session.add_all(PerkCode(perk_id=perk.id, code=c) for c in codes)


@dataclass(frozen=True)
class Stats:
    claims: int = 0
    codes: int = 0
    codes_used: int = 0


async def stats(session: AsyncSession, perk_ids: Sequence[int]) -> dict[int, Stats]:
    if not perk_ids:
        return {}
    claims = dict(
        (
            await session.execute(
                select(PerkClaim.perk_id, func.count())
                .where(PerkClaim.perk_id.in_(perk_ids))
                .group_by(PerkClaim.perk_id)
            )
        ).all()
    )
    codes = {
        pid: (total, used)
        for pid, total, used in (
            await session.execute(
                select(PerkCode.perk_id, func.count(), func.count(PerkCode.claimed_at))
                .where(PerkCode.perk_id.in_(perk_ids))
                .group_by(PerkCode.perk_id)
            )
        ).all()
    }
    return {pid: Stats(claims.get(pid, 0), *codes.get(pid, (0, 0))) for pid in perk_ids}


async def claims_of(
    session: AsyncSession, person_id: int, perk_ids: Sequence[int]
) -> dict[int, tuple[PerkClaim, str | None]]:
    """{perk id: (the person's claim, its code or None)}."""
    if not perk_ids:
        return {}
    query = (
        select(PerkClaim, PerkCode.code)
        .outerjoin(PerkCode, PerkCode.id == PerkClaim.code_id)
        .where(PerkClaim.person_id == person_id, PerkClaim.perk_id.in_(perk_ids))
    )
    return {c.perk_id: (c, code) for c, code in (await session.execute(query)).all()}


async def has_codes(session: AsyncSession, perk_id: int) -> bool:
    query = select(PerkCode.id).where(PerkCode.perk_id == perk_id).limit(1)
    return (await session.scalar(query)) is not None


async def _next_code(session: AsyncSession, perk_id: int) -> PerkCode | None:
    # `claimed_at`, not `claimed_by`: a forgotten person's code keeps its claimed_at and is
    # never handed out again.
    query = (
        select(PerkCode)
        .where(PerkCode.perk_id == perk_id, PerkCode.claimed_at.is_(None))
        .order_by(PerkCode.id)
        .limit(1)
    )
    code = (await session.scalars(query.with_for_update(skip_locked=True))).first()
    if code is None:  # all free codes may be locked by claims that will still roll back
        code = (await session.scalars(query.with_for_update())).first()
    return code


async def claim(
    session: AsyncSession, perk: Perk, person_id: int, now: datetime
) -> tuple[PerkClaim, str | None]:
    """Claim once: (the claim, its code or None for perks without codes). Refused with
    `perks.already_claimed` or `perks.codes_out`; the caller's savepoint undoes the claim."""
    result = await session.execute(
        insert_ignore(session, PerkClaim.__table__).values(
            perk_id=perk.id, person_id=person_id, claimed_at=now
        )
    )
    assert isinstance(result, CursorResult)
    if not result.rowcount:
        raise Refused("perks.already_claimed")
    query = select(PerkClaim).where(PerkClaim.perk_id == perk.id, PerkClaim.person_id == person_id)
    row = (await session.scalars(query)).one()
    if not await has_codes(session, perk.id):
        return row, None
    code = await _next_code(session, perk.id)
    if code is None:
        raise Refused("perks.codes_out")
    code.claimed_by, code.claimed_at = person_id, now
    row.code_id = code.id
    await session.flush()
    return row, code.code


async def claimers(
    session: AsyncSession, perk_id: int, limit: int = 50, offset: int = 0
) -> list[tuple[PerkClaim, Person]]:
    query = (
        select(PerkClaim, Person)
        .join(Person, Person.id == PerkClaim.person_id)
        .where(PerkClaim.perk_id == perk_id)
        .order_by(PerkClaim.claimed_at, PerkClaim.id)
        .offset(offset)
        .limit(limit)
    )
    return [(c, p) for c, p in (await session.execute(query)).all()]


async def last_announced(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.max(Perk.announced_at)))


async def pending(session: AsyncSession, day: date) -> list[Perk]:
    """Perks valid today and not yet announced, locked for this transaction (SKIP LOCKED:
    another worker announcing them is left alone)."""
    query = (
        select(Perk)
        .where(Perk.announced_at.is_(None), *_valid(day))
        .order_by(Perk.id)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def audience(session: AsyncSession) -> list[Person]:
    """Alumni who joined and may be told of perks (not paused, not opted out)."""
    query = select(Person).where(
        Person.left_on.is_not(None),
        Person.consent_at.is_not(None),
        Person.forgotten_at.is_(None),
        Person.paused.is_(False),
    )
    people = (await session.scalars(query.order_by(Person.id))).all()
    return [p for p in people if "perks" not in p.opt_outs]
