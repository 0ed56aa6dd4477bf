"""Events in the database: audiences, RSVPs with a capacity and a waitlist, reminders that fall
due, attendance.

Every RSVP change locks its event's row first (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
single writer already serialises), so two people taking the last seat at once are counted one
after the other: one is going, the other waitlisted. Reminders are claimed with
`FOR UPDATE SKIP LOCKED`, so several workers never send the same one twice."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    false,
    func,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
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


# The statements of an RSVP press, built once: a rush of presses is CPU-bound in this process,
# and building a statement cost about as much as running it (bench/event_rsvp.py).
_EVENT = select(Event).where(Event.id == bindparam("id")).execution_options(populate_existing=True)
_EVENT_LOCKED = _EVENT.with_for_update()
_LOCK = (
    select(Event.uid, Event.sequence, Event.status)
    .where(Event.id == bindparam("id"))
    .with_for_update()
)
_TALLY = (
    select(Rsvp.status, func.count(), func.count(case((Rsvp.person_id == bindparam("person"), 1))))
    .where(Rsvp.event_id == bindparam("event"))
    .group_by(Rsvp.status)
)


async def get(session: AsyncSession, event_id: int, *, lock: bool = False) -> Event | None:
    query = _EVENT_LOCKED if lock else _EVENT
    return (await session.scalars(query, {"id": event_id})).first()


async def lock(session: AsyncSession, event: Event) -> Event | None:
    """Lock an event read earlier, for an RSVP. Every change to an event bumps its `sequence`
    (cancelling too), so the row is only read again when it changed in between (or is another
    event by the same id: another database's, its UID tells); None when it is gone."""
    row = (await session.execute(_LOCK, {"id": event.id})).first()
    if row is None:
        return None
    if tuple(row) == (event.uid, event.sequence, event.status):
        return event
    return await get(session, event.id)


# Per process, the version of each event its RSVPs last read: detached from the session that
# read it and only ever read, never changed. `lock` checks it is still the current one.
_KNOWN: dict[int, Event] = {}
_KNOWN_KEEP = 256


def known(event_id: int) -> Event | None:
    """The version of this event the last RSVP in this process read, if it kept it."""
    return _KNOWN.get(event_id)


def remember(session: AsyncSession, event: Event) -> None:
    """Keep this version of the event for the next RSVPs (see `known`)."""
    if _KNOWN.get(event.id) is event:
        return
    if event in session:
        session.expunge(event)
    if len(_KNOWN) >= _KNOWN_KEEP:
        _KNOWN.pop(next(iter(_KNOWN)))
    _KNOWN[event.id] = event


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


@dataclass
class Outcome:
    rsvp: Rsvp
    changed: bool
    promoted: list[Rsvp] = field(default_factory=list)
    position: int | None = None  # on the waitlist, when just put there (else ask)


async def tally(
    session: AsyncSession, event_id: int, person_id: int
) -> tuple[dict[str, int], bool]:
    """({status: count} for one event, whether this person has answered), in one query."""
    rows = (await session.execute(_TALLY, {"person": person_id, "event": event_id})).all()
    return {status: n for status, n, _ in rows}, any(m for _, _, m in rows)


def _first_answer(capped: bool) -> Select[tuple[int | None, str | None, int]]:
    """PostgreSQL: a person's first answer, counted and written in one statement (the event's
    row locked before it, so its snapshot sees every answer before this one). Counts the seats
    and the waitlist, inserts the answer (`going` past the capacity becomes `waitlist`) unless
    this person has one already (then nothing: id and status NULL), and returns the id, the
    status and the waitlist's length before it."""
    r = Rsvp.__table__
    counted = (
        select(
            func.count().filter(r.c.status == RsvpStatus.GOING).label("going"),
            func.count().filter(r.c.status == RsvpStatus.WAITLIST).label("waiting"),
        )
        .where(r.c.event_id == bindparam("event"))
        .cte("counted")
    )
    at = r.c.updated_at.type
    status: ColumnElement[str] = (
        case((counted.c.going >= bindparam("capacity", type_=Integer), RsvpStatus.WAITLIST.value),
             else_=bindparam("wanted", type_=String))
        if capped
        else bindparam("wanted", type_=String)
    )  # fmt: skip
    going = status == RsvpStatus.GOING.value
    values = select(
        bindparam("event", type_=Integer),
        bindparam("person", type_=Integer),
        status,
        case((status == RsvpStatus.WAITLIST.value, bindparam("now", type_=at)), else_=null()),
        false(),
        case((going, bindparam("r24", type_=at)), else_=null()),
        case((going, bindparam("r1", type_=at)), else_=null()),
        bindparam("now", type_=at),
    ).select_from(counted)
    columns = ["event_id", "person_id", "status", "waitlisted_at", "attended",
               "reminded_24h_at", "reminded_1h_at", "updated_at"]  # fmt: skip
    added = (
        pg_insert(Rsvp)
        .from_select(columns, values)
        .on_conflict_do_nothing(index_elements=["event_id", "person_id"])
        .returning(r.c.id, r.c.status)
        .cte("added")
    )
    return select(added.c.id, added.c.status, counted.c.waiting).select_from(
        counted.outerjoin(added, true())
    )


_FIRST_CAPPED, _FIRST = _first_answer(True), _first_answer(False)


async def _first(
    session: AsyncSession, event: Event, person_id: int, wanted: RsvpStatus, now: datetime
) -> Outcome | None:
    """A first answer in one statement (PostgreSQL); None when the person answered before."""
    capped = wanted == RsvpStatus.GOING and event.capacity is not None
    r24 = now if event.starts_at - BEFORE_24H <= now else None  # already overdue: not sent
    r1 = now if event.starts_at - BEFORE_1H <= now else None
    params = {"event": event.id, "person": person_id, "wanted": wanted.value, "now": now,
              "capacity": event.capacity, "r24": r24, "r1": r1}  # fmt: skip
    row = (await session.execute(_FIRST_CAPPED if capped else _FIRST, params)).one()
    if row.id is None:
        return None
    status = RsvpStatus(row.status)
    rsvp = Rsvp(
        id=row.id,
        event_id=event.id,
        person_id=person_id,
        status=status,
        waitlisted_at=now if status == RsvpStatus.WAITLIST else None,
        attended=False,
        updated_at=now,
    )  # fmt: skip  (not in the session: written already, read only)
    if status == RsvpStatus.GOING:
        rsvp.reminded_24h_at, rsvp.reminded_1h_at = r24, r1
    position = row.waiting + 1 if status == RsvpStatus.WAITLIST else None
    return Outcome(rsvp, changed=True, position=position)


async def answer(
    session: AsyncSession, event: Event, person_id: int, wanted: RsvpStatus, now: datetime
) -> Outcome:
    """Record an RSVP. The event must have been read with `lock=True` in this transaction.

    Going over capacity puts the person on the waitlist; freeing a seat promotes the first
    waiting. Refused (nothing changed) when the event is cancelled or has started, or for
    going/maybe after the RSVP deadline (saying "no" is still taken: it frees a seat)."""
    if event.status != "scheduled":
        raise Refused("events.refused_cancelled")
    if now >= event.starts_at:
        raise Refused("events.refused_started")
    if wanted != RsvpStatus.NO and now >= deadline(event):
        raise Refused("events.refused_deadline")
    # Most of a rush answer "going" or "maybe" for the first time: one statement. "Can't go"
    # mostly changes an answer given before (a freed seat), so it goes straight to the count.
    if wanted != RsvpStatus.NO and session.get_bind().dialect.name == "postgresql":
        first = await _first(session, event, person_id, wanted, now)
        if first is not None:
            return first
    # One query for the seats, the waitlist and whether this person answered before (most in a
    # rush have not, and need no second read). The lock being held, a newcomer put on the
    # waitlist joins its end (`waitlisted_at` now, the newest id): its place is the count + 1.
    counted, answered = await tally(session, event.id, person_id)
    rsvp = await rsvp_of(session, event.id, person_id) if answered else None
    if rsvp is not None and (
        rsvp.status == wanted or (rsvp.status == RsvpStatus.WAITLIST and wanted == RsvpStatus.GOING)
    ):
        return Outcome(rsvp, changed=False)
    was_going = rsvp is not None and rsvp.status == RsvpStatus.GOING
    status, position = wanted, None
    if wanted == RsvpStatus.GOING and event.capacity is not None:
        if counted.get(RsvpStatus.GOING, 0) >= event.capacity:
            status, position = RsvpStatus.WAITLIST, counted.get(RsvpStatus.WAITLIST, 0) + 1
    if rsvp is None:
        rsvp = Rsvp(event_id=event.id, person_id=person_id, attended=False)
        session.add(rsvp)
    rsvp.status = status
    rsvp.waitlisted_at = now if status == RsvpStatus.WAITLIST else None
    rsvp.updated_at = now
    if status == RsvpStatus.GOING:
        skip_passed_reminders(rsvp, event, now)
    if not was_going:  # nothing more to count: the row goes in with the caller's next flush
        return Outcome(rsvp, changed=True, position=position)
    await session.flush()
    promoted = await promote(session, event, now)
    return Outcome(rsvp, changed=True, promoted=promoted, position=position)


async def promote(session: AsyncSession, event: Event, now: datetime) -> list[Rsvp]:
    """Move the first waiting into free seats (event row locked by the caller)."""
    if event.capacity is None:
        free = None
    else:
        free = event.capacity - await going_count(session, event.id)
        if free <= 0:
            return []
    query = (
        select(Rsvp)
        .where(Rsvp.event_id == event.id, Rsvp.status == RsvpStatus.WAITLIST)
        .order_by(Rsvp.waitlisted_at, Rsvp.id)
    )
    if free is not None:
        query = query.limit(free)
    waiting = list((await session.scalars(query)).all())
    for rsvp in waiting:
        rsvp.status, rsvp.waitlisted_at, rsvp.updated_at = RsvpStatus.GOING, None, now
        skip_passed_reminders(rsvp, event, now)
    await session.flush()
    return waiting


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
