"""Answering an event: an RSVP press counted against the seats, with a waitlist.

Every RSVP change locks its event's row first (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
single writer already serialises), so two people taking the last seat at once are counted one
after the other: one is going, the other waitlisted. A crowd's presses read the event once a
process (`known`, `remember`) and then only lock its row; on PostgreSQL a first answer is
counted and written in one statement (bench/event_rsvp.py has what each step costs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    case,
    false,
    func,
    null,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.events import (
    BEFORE_1H,
    BEFORE_24H,
    Refused,
    RsvpStatus,
    deadline,
    get,
    going_count,
    rsvp_of,
    skip_passed_reminders,
)
from storage.models import Event, Rsvp

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
