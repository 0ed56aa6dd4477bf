"""Events in the database: audiences, RSVPs as read back, reminders that fall due, attendance.
Answering (the seats, the waitlist, the event's lock) is storage/rsvps.py.

Reminders are claimed with `FOR UPDATE SKIP LOCKED`, so several workers never send the same
one twice."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import (
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage import interactions
from storage.models import Event, InteractionKind, Person, Rsvp
from storage.segments import Segment as Segment
from storage.segments import contains as contains
from storage.segments import parse_segment as parse_segment
from storage.segments import segment_clause

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
BEFORE_24H = timedelta(hours=24)
BEFORE_1H = timedelta(hours=1)
CHECKIN_OPENS = timedelta(hours=1)  # before the start
CHECKIN_CLOSES = timedelta(hours=6)  # after the end


class RsvpStatus(StrEnum):
    GOING = "going"
    MAYBE = "maybe"
    NO = "no"
    WAITLIST = "waitlist"


ANSWERS = (RsvpStatus.GOING, RsvpStatus.MAYBE, RsvpStatus.NO)  # what a person can choose
NOTIFIED = (RsvpStatus.GOING, RsvpStatus.MAYBE, RsvpStatus.WAITLIST)  # told of changes


class Refused(Exception):
    """An RSVP that cannot be taken: the key of the message that says why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def new_uid() -> str:
    return f"{uuid.uuid4().hex}@alumni-bot"


def new_checkin_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def local_day(event: Event) -> date:
    return event.starts_at.astimezone(ZoneInfo(event.timezone)).date()


def deadline(event: Event) -> datetime:
    return event.rsvp_deadline or event.starts_at


def checkin_open(event: Event, now: datetime) -> bool:
    return event.starts_at - CHECKIN_OPENS <= now <= event.ends_at + CHECKIN_CLOSES


# Built once: a rush of RSVPs is CPU-bound in this process, and building a statement cost
# about as much as running it (bench/event_rsvp.py).
_EVENT = select(Event).where(Event.id == bindparam("id")).execution_options(populate_existing=True)
_EVENT_LOCKED = _EVENT.with_for_update()


async def get(session: AsyncSession, event_id: int, *, lock: bool = False) -> Event | None:
    query = _EVENT_LOCKED if lock else _EVENT
    return (await session.scalars(query, {"id": event_id})).first()


async def upcoming(session: AsyncSession, now: datetime, limit: int = 50) -> list[Event]:
    """Scheduled events not yet over, soonest first."""
    query = (
        select(Event)
        .where(Event.status == "scheduled", Event.ends_at > now)
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def listed(
    session: AsyncSession, now: datetime, *, past: bool, number: int, size: int
) -> list[Event]:
    """One page (numbered from 1) of events, cancelled ones too: those not yet over soonest
    first, or those over latest first. Up to `size + 1` rows: one more says there is a next."""
    query = select(Event)
    if past:
        query = query.where(Event.ends_at <= now).order_by(Event.starts_at.desc(), Event.id)
    else:
        query = query.where(Event.ends_at > now).order_by(Event.starts_at, Event.id)
    query = query.offset((number - 1) * size).limit(size + 1)
    return list((await session.scalars(query)).all())


async def by_checkin_code(session: AsyncSession, code: str, now: datetime) -> Event | None:
    """The event not yet over whose check-in code this is (the caller checks the window)."""
    query = (
        select(Event)
        .where(
            Event.checkin_code == code.strip().upper(),
            Event.status == "scheduled",
            Event.ends_at >= now - CHECKIN_CLOSES,
        )
        .order_by(Event.starts_at)
    )
    return (await session.scalars(query)).first()


async def code_in_use(session: AsyncSession, code: str, now: datetime) -> bool:
    query = select(Event.id).where(Event.checkin_code == code, Event.ends_at > now - CHECKIN_CLOSES)
    return (await session.scalar(query)) is not None


async def rsvp_of(session: AsyncSession, event_id: int, person_id: int) -> Rsvp | None:
    query = select(Rsvp).where(Rsvp.event_id == event_id, Rsvp.person_id == person_id)
    return (await session.scalars(query)).first()


async def rsvps_of(
    session: AsyncSession, person_id: int, event_ids: Sequence[int]
) -> dict[int, Rsvp]:
    if not event_ids:
        return {}
    query = select(Rsvp).where(Rsvp.person_id == person_id, Rsvp.event_id.in_(event_ids))
    return {r.event_id: r for r in (await session.scalars(query)).all()}


async def counts(session: AsyncSession, event_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """{event id: {status: count, "attended": count}}."""
    out: dict[int, dict[str, int]] = {i: {} for i in event_ids}
    if not event_ids:
        return out
    query = (
        select(Rsvp.event_id, Rsvp.status, func.count())
        .where(Rsvp.event_id.in_(event_ids))
        .group_by(Rsvp.event_id, Rsvp.status)
    )
    for event_id, status, n in (await session.execute(query)).all():
        out[event_id][status] = n
    attended = (
        select(Rsvp.event_id, func.count())
        .where(Rsvp.event_id.in_(event_ids), Rsvp.attended.is_(True))
        .group_by(Rsvp.event_id)
    )
    for event_id, n in (await session.execute(attended)).all():
        out[event_id]["attended"] = n
    return out


async def going_count(session: AsyncSession, event_id: int) -> int:
    query = select(func.count()).where(Rsvp.event_id == event_id, Rsvp.status == RsvpStatus.GOING)
    return int(await session.scalar(query) or 0)


async def waitlist_position(session: AsyncSession, rsvp: Rsvp) -> int:
    assert rsvp.waitlisted_at is not None
    query = select(func.count()).where(
        Rsvp.event_id == rsvp.event_id,
        Rsvp.status == RsvpStatus.WAITLIST,
        or_(
            Rsvp.waitlisted_at < rsvp.waitlisted_at,
            and_(Rsvp.waitlisted_at == rsvp.waitlisted_at, Rsvp.id <= rsvp.id),
        ),
    )
    return int(await session.scalar(query) or 0)


def skip_passed_reminders(rsvp: Rsvp, event: Event, now: datetime) -> None:
    """Someone who becomes `going` late does not get a reminder that is already overdue."""
    if rsvp.reminded_24h_at is None and event.starts_at - BEFORE_24H <= now:
        rsvp.reminded_24h_at = now
    if rsvp.reminded_1h_at is None and event.starts_at - BEFORE_1H <= now:
        rsvp.reminded_1h_at = now


async def audience(session: AsyncSession, segment: Segment) -> list[Person]:
    """People an invitation goes to: joined (consented), not forgotten, paused or opted out."""
    query = select(Person).where(
        Person.consent_at.is_not(None),
        Person.forgotten_at.is_(None),
        Person.paused.is_(False),
        segment_clause(segment, session.get_bind().dialect.name),
    )
    people = (await session.scalars(query.order_by(Person.id))).all()
    return [p for p in people if "events" not in p.opt_outs]


async def with_people(
    session: AsyncSession,
    event_id: int,
    statuses: Sequence[str] | None = None,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> list[tuple[Rsvp, Person]]:
    query = (
        select(Rsvp, Person)
        .join(Person, Person.id == Rsvp.person_id)
        .where(Rsvp.event_id == event_id, Person.forgotten_at.is_(None))
        .order_by(Rsvp.status, Rsvp.waitlisted_at, Person.name, Rsvp.id)
    )
    if statuses is not None:
        query = query.where(Rsvp.status.in_(statuses))
    if offset or limit is not None:
        query = query.offset(offset).limit(limit)
    return [(r, p) for r, p in (await session.execute(query)).all()]


def reset_reminders(rsvps: Sequence[Rsvp], event: Event, now: datetime) -> None:
    """After the start time moves, reminders are owed again (except those already overdue)."""
    for rsvp in rsvps:
        rsvp.reminded_24h_at = rsvp.reminded_1h_at = None
        if rsvp.status == RsvpStatus.GOING:
            skip_passed_reminders(rsvp, event, now)


async def due_reminders(
    session: AsyncSession, now: datetime, limit: int
) -> list[tuple[Rsvp, Event, Person]]:
    """Claim going RSVPs owed a reminder (24 h or 1 h before the start), locked for this
    transaction and skipped by other workers."""
    query = (
        select(Rsvp, Event, Person)
        .join(Event, Event.id == Rsvp.event_id)
        .join(Person, Person.id == Rsvp.person_id)
        .where(
            Rsvp.status == RsvpStatus.GOING,
            Event.status == "scheduled",
            Event.starts_at > now,
            Event.starts_at <= now + BEFORE_24H,
            or_(
                Rsvp.reminded_24h_at.is_(None),
                and_(Rsvp.reminded_1h_at.is_(None), Event.starts_at <= now + BEFORE_1H),
            ),
        )
        .order_by(Rsvp.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Rsvp)
    )
    return [(r, e, p) for r, e, p in (await session.execute(query)).all()]


async def mark_attended(
    session: AsyncSession, event: Event, person_id: int, *, by: int | None, now: datetime
) -> int | None:
    """Mark one attendee (a walk-in gets a `going` RSVP) and log in-person interactions
    between the alumni and the employees present. None when already marked; else how many
    interactions were logged."""
    rsvp = await rsvp_of(session, event.id, person_id)
    if rsvp is not None and rsvp.attended:
        return None
    if rsvp is None:
        rsvp = Rsvp(event_id=event.id, person_id=person_id, status=RsvpStatus.GOING)
        session.add(rsvp)
    rsvp.attended, rsvp.updated_at = True, now
    await session.flush()
    me = await session.get(Person, person_id)
    assert me is not None
    present = (
        select(Person)
        .join(Rsvp, Rsvp.person_id == Person.id)
        .where(
            Rsvp.event_id == event.id,
            Rsvp.attended.is_(True),
            Person.id != person_id,
            Person.forgotten_at.is_(None),
        )
    )
    others = (await session.scalars(present)).all()
    day, logged = local_day(event), 0
    for other in others:
        if other.is_alumnus == me.is_alumnus:
            continue  # colleagues meeting colleagues: the log is alumni ↔ employees
        if await interactions.record(
            session,
            person_id,
            other.id,
            InteractionKind.IN_PERSON,
            day,
            source="event",
            logged_by=by,
            now=now,
        ):
            logged += 1
    return logged
