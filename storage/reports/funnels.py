"""The engagement review's outcome sections: the comeback and referral funnel, event turnout,
perk use, broadcast reach and clicks. Aggregates in the database, narrowed by the same date
range and segment as the people sections (storage/reports/sections.py).

With a segment other than `all`, a row counts when the person it is about is in the segment:
the alumnus matched or interested, the referrer or the referred alumnus, the person who
answered an RSVP, claimed a perk, was sent a broadcast or clicked it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Broadcast,
    BroadcastClick,
    Event,
    Match,
    OutboxMessage,
    OutboxState,
    Perk,
    PerkClaim,
    Person,
    Referral,
    Rsvp,
)
from storage.reports.facts import dialect_of
from storage.reports.filter import Filter
from storage.segments import people_in, segment_clause

# Referral stages in order; a referral at a stage has passed every earlier one.
STAGES = ("submitted", "screening", "interview", "offer", "hired")
TOP_ROWS = 15


def _sum(cond: Any) -> Any:
    return func.sum(case((cond, 1), else_=0))


@dataclass(frozen=True)
class Funnel:
    comeback: dict[str, int]  # alumni in the segment by their comeback answer
    matched: int  # alumni told about a matching opening in the range
    interested: int  # of them, answered "interested"
    referrals: dict[str, list[int]]  # kind → people reaching each of STAGES
    declined: dict[str, int]  # kind → declined

    @property
    def rehires(self) -> int:
        """Alumni who came back: their own interest, or a referral of an alumnus, hired."""
        return sum(stages[-1] for stages in self.referrals.values())


async def funnel(session: AsyncSession, f: Filter) -> Funnel:
    dialect = dialect_of(session)
    comeback = await session.execute(
        select(Person.comeback, func.count())
        .where(Person.left_on.is_not(None), Person.forgotten_at.is_(None))
        .where(segment_clause(f.segment, dialect))
        .group_by(Person.comeback)
    )
    members = people_in(f.segment, dialect)
    matches = select(
        _sum(Match.notified_at.is_not(None)), _sum(Match.response == "interested")
    ).where(
        or_(
            and_(Match.notified_at >= f.since, Match.notified_at < f.until),
            and_(Match.notified_at.is_(None), Match.created_at >= f.since,
                 Match.created_at < f.until),
        )
    )  # fmt: skip
    refs = (
        select(Referral.kind, Referral.status, func.count())
        .where(Referral.created_at >= f.since, Referral.created_at < f.until)
        .group_by(Referral.kind, Referral.status)
    )
    if members is not None:
        matches = matches.where(Match.person_id.in_(members))
        refs = refs.where(
            or_(Referral.referrer_id.in_(members), Referral.candidate_person_id.in_(members))
        )
    matched, interested = (await session.execute(matches)).one()
    stages: dict[str, list[int]] = {"referral": [0] * len(STAGES), "interest": [0] * len(STAGES)}
    declined = {"referral": 0, "interest": 0}
    for kind, status, n in await session.execute(refs):
        kind = kind if kind in stages else "referral"
        if status == "declined":
            declined[kind] += n
            stages[kind][0] += n
            continue
        reached = STAGES.index(status) if status in STAGES else 0
        for i in range(reached + 1):
            stages[kind][i] += n
    return Funnel(
        {str(c): int(n) for c, n in comeback},
        int(matched or 0),
        int(interested or 0),
        stages,
        declined,
    )


@dataclass(frozen=True)
class EventRow:
    title: str
    day: str
    capacity: int | None
    going: int
    maybe: int
    waitlist: int
    attended: int


@dataclass(frozen=True)
class Turnout:
    events: int
    going: int
    attended: int
    rows: list[EventRow]  # the latest TOP_ROWS events

    @property
    def rate(self) -> float | None:
        return self.attended / self.going if self.going else None


async def turnout(session: AsyncSession, f: Filter) -> Turnout:
    members = people_in(f.segment, dialect_of(session))
    join_on = Rsvp.event_id == Event.id
    if members is not None:
        join_on = and_(join_on, Rsvp.person_id.in_(members))
    attended = _sum(Rsvp.attended.is_(True))
    query = (
        select(
            Event.id,
            Event.title,
            Event.starts_at,
            Event.capacity,
            _sum(or_(Rsvp.status == "going", Rsvp.attended.is_(True))).label("going"),
            _sum(Rsvp.status == "maybe").label("maybe"),
            _sum(Rsvp.status == "waitlist").label("waitlist"),
            attended.label("attended"),
        )
        .outerjoin(Rsvp, join_on)
        .where(Event.starts_at >= f.since, Event.starts_at < f.until)
        .where(Event.status != "cancelled")
        .group_by(Event.id, Event.title, Event.starts_at, Event.capacity)
    )
    sub = query.subquery()
    total = (
        await session.execute(select(func.count(), func.sum(sub.c.going), func.sum(sub.c.attended)))
    ).one()
    latest = await session.execute(query.order_by(Event.starts_at.desc()).limit(TOP_ROWS))
    rows = [
        EventRow(r.title, r.starts_at.date().isoformat(), r.capacity, int(r.going or 0),
                 int(r.maybe or 0), int(r.waitlist or 0), int(r.attended or 0))
        for r in latest
    ]  # fmt: skip
    return Turnout(int(total[0] or 0), int(total[1] or 0), int(total[2] or 0), rows)


@dataclass(frozen=True)
class PerkRow:
    title: str
    claims: int  # in the range


@dataclass(frozen=True)
class PerkUse:
    claims: int
    claimers: int  # distinct people
    rows: list[PerkRow]


async def perk_use(session: AsyncSession, f: Filter) -> PerkUse:
    members = people_in(f.segment, dialect_of(session))
    in_range = and_(PerkClaim.claimed_at >= f.since, PerkClaim.claimed_at < f.until)
    if members is not None:
        in_range = and_(in_range, PerkClaim.person_id.in_(members))
    total = (
        await session.execute(
            select(func.count(), func.count(func.distinct(PerkClaim.person_id))).where(in_range)
        )
    ).one()
    rows = await session.execute(
        select(Perk.title, func.count(PerkClaim.id))
        .join(PerkClaim, and_(PerkClaim.perk_id == Perk.id, in_range))
        .group_by(Perk.id, Perk.title)
        .order_by(func.count(PerkClaim.id).desc(), Perk.id)
        .limit(TOP_ROWS)
    )
    return PerkUse(int(total[0] or 0), int(total[1] or 0), [PerkRow(t, int(n)) for t, n in rows])


@dataclass(frozen=True)
class BroadcastRow:
    id: int
    day: str
    segment: str
    queued: int  # outbox messages
    sent: int
    failed: int  # dead: gave up or unreachable
    clickers: int


@dataclass(frozen=True)
class Reach:
    broadcasts: int
    queued: int
    sent: int
    failed: int
    clickers: int
    rows: list[BroadcastRow]

    @property
    def delivery_rate(self) -> float | None:
        return self.sent / self.queued if self.queued else None

    @property
    def click_rate(self) -> float | None:
        return self.clickers / self.sent if self.sent else None


async def reach(session: AsyncSession, f: Filter) -> Reach:
    members = people_in(f.segment, dialect_of(session))
    out_on = OutboxMessage.broadcast_id == Broadcast.id
    click_on = BroadcastClick.broadcast_id == Broadcast.id
    if members is not None:
        out_on = and_(out_on, OutboxMessage.person_id.in_(members))
        click_on = and_(click_on, BroadcastClick.person_id.in_(members))
    in_range = and_(Broadcast.created_at >= f.since, Broadcast.created_at < f.until)
    delivery = (
        select(
            Broadcast.id.label("id"),
            func.count(OutboxMessage.id).label("queued"),
            _sum(OutboxMessage.state == OutboxState.SENT).label("sent"),
            _sum(OutboxMessage.state == OutboxState.DEAD).label("failed"),
        )
        .outerjoin(OutboxMessage, out_on)
        .where(in_range)
        .group_by(Broadcast.id)
        .subquery("delivery")
    )
    clicks = (
        select(
            Broadcast.id.label("id"),
            func.count(func.distinct(BroadcastClick.person_id)).label("clickers"),
        )
        .outerjoin(BroadcastClick, click_on)
        .where(in_range)
        .group_by(Broadcast.id)
        .subquery("clicks")
    )
    query = (
        select(
            Broadcast.id,
            Broadcast.created_at,
            Broadcast.segment,
            delivery.c.queued,
            delivery.c.sent,
            delivery.c.failed,
            clicks.c.clickers,
        )
        .join(delivery, delivery.c.id == Broadcast.id)
        .join(clicks, clicks.c.id == Broadcast.id)
    )
    sub = query.subquery()
    total = (
        await session.execute(
            select(
                func.count(),
                func.sum(sub.c.queued),
                func.sum(sub.c.sent),
                func.sum(sub.c.failed),
                func.sum(sub.c.clickers),
            )
        )
    ).one()
    latest = await session.execute(query.order_by(Broadcast.created_at.desc()).limit(TOP_ROWS))
    rows = [
        BroadcastRow(r.id, r.created_at.date().isoformat(), r.segment, int(r.queued or 0),
                     int(r.sent or 0), int(r.failed or 0), int(r.clickers or 0))
        for r in latest
    ]  # fmt: skip
    n, queued, sent, failed, clickers = (int(v or 0) for v in total)
    return Reach(n, queued, sent, failed, clickers, rows)
