"""What a person's home page shows, from what the database already has: upcoming events with
their RSVP, matched openings, this year's interactions; and the HR and admin summaries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Event, Interaction, Match, Opening, Person, Referral, Rsvp

OPEN_REFERRALS = ("submitted",)  # waiting for HR's first look


async def upcoming_events(
    session: AsyncSession, person_id: int, now: datetime, limit: int = 5
) -> list[tuple[Event, str | None]]:
    """Scheduled events still ahead, for everyone or already answered by this person, soonest
    first, with the person's RSVP status (None if not answered)."""
    query = (
        select(Event, Rsvp.status)
        .outerjoin(Rsvp, and_(Rsvp.event_id == Event.id, Rsvp.person_id == person_id))
        .where(Event.status == "scheduled", Event.starts_at > now)
        .where(or_(Event.segment == "all", Rsvp.id.is_not(None)))
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return [(event, status) for event, status in (await session.execute(query)).all()]


async def matched_openings(
    session: AsyncSession, person_id: int, limit: int = 5
) -> list[tuple[Opening, Match]]:
    """Open openings matched to this person that they have not turned down, best first."""
    query = (
        select(Opening, Match)
        .join(Match, Match.opening_id == Opening.id)
        .where(Match.person_id == person_id, Opening.status == "open")
        .where(or_(Match.response.is_(None), Match.response != "not_for_me"))
        .order_by(Match.score.desc(), Opening.id)
        .limit(limit)
    )
    return [(opening, match) for opening, match in (await session.execute(query)).all()]


async def interaction_count(session: AsyncSession, person_id: int, start: date, end: date) -> int:
    """Interactions this person took part in, on days in [start, end)."""
    query = (
        select(func.count())
        .select_from(Interaction)
        .where(or_(Interaction.person_a == person_id, Interaction.person_b == person_id))
        .where(Interaction.occurred_on >= start, Interaction.occurred_on < end)
    )
    return int(await session.scalar(query) or 0)


@dataclass(frozen=True)
class HrSummary:
    open_openings: int
    waiting_referrals: int
    upcoming_events: int


async def hr_summary(session: AsyncSession, now: datetime) -> HrSummary:
    openings = select(func.count()).select_from(Opening).where(Opening.status == "open")
    referrals = (
        select(func.count()).select_from(Referral).where(Referral.status.in_(OPEN_REFERRALS))
    )
    events = (
        select(func.count())
        .select_from(Event)
        .where(Event.status == "scheduled", Event.starts_at > now)
    )
    return HrSummary(
        int(await session.scalar(openings) or 0),
        int(await session.scalar(referrals) or 0),
        int(await session.scalar(events) or 0),
    )


@dataclass(frozen=True)
class AdminSummary:
    people: int
    joined: int
    interactions: int


async def admin_summary(session: AsyncSession, start: date, end: date) -> AdminSummary:
    people = select(func.count()).select_from(Person).where(Person.forgotten_at.is_(None))
    joined = people.where(Person.consent_at.is_not(None))
    interactions = (
        select(func.count())
        .select_from(Interaction)
        .where(Interaction.occurred_on >= start, Interaction.occurred_on < end)
    )
    return AdminSummary(
        int(await session.scalar(people) or 0),
        int(await session.scalar(joined) or 0),
        int(await session.scalar(interactions) or 0),
    )
