"""`stats`: the one-screen summary of whether the alumni network is alive (issue 9).

Every figure is an aggregate over the whole network as of `now` (no segment), computed in the
database. Months are calendar months in the caller's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Event,
    Identity,
    Interaction,
    Match,
    Opening,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    PerkClaim,
    Person,
    Referral,
    Rsvp,
    SurveyResponse,
)

ALUMNI = and_(Person.left_on.is_not(None), Person.forgotten_at.is_(None))


@dataclass(frozen=True)
class Stats:
    alumni: int
    joined: int  # alumni who gave their consent
    channels: dict[str, int]  # alumni with an identity on each channel
    active_30: int  # alumni who met someone or answered the survey in the last 30 days
    active_90: int
    interactions_this_month: int
    interactions_last_month: int
    checkins_sent: int  # alumni sent a check-in in the last 90 days
    checkins_answered: int  # of them, answered since
    index_period: str | None  # latest survey period with answers
    index: float | None
    index_previous: float | None  # the period before
    index_answers: int
    open_openings: int
    interested: int  # alumni interested in an opening (last 90 days)
    referrals: int  # referrals and interests created in the last 90 days
    rehires: int  # of all referrals and interests, hired in the last 90 days
    events: int  # events held in the last 90 days
    event_going: int
    event_attended: int
    perk_claims: int  # last 30 days
    broadcast_states: dict[str, int]  # broadcast messages of the last 30 days by state

    @property
    def checkin_rate(self) -> float | None:
        return self.checkins_answered / self.checkins_sent if self.checkins_sent else None

    @property
    def turnout(self) -> float | None:
        return self.event_attended / self.event_going if self.event_going else None


def _month_start(day: date, back: int = 0) -> date:
    year, month = day.year, day.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


async def _count(session: AsyncSession, query: object) -> int:
    return int(await session.scalar(query) or 0)  # type: ignore[call-overload]


async def stats(session: AsyncSession, now: datetime, timezone: str) -> Stats:
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    d30, d90 = now - timedelta(days=30), now - timedelta(days=90)
    alumni_ids = select(Person.id).where(ALUMNI)

    totals = (
        await session.execute(
            select(func.count(), func.sum(case((Person.consent_at.is_not(None), 1), else_=0)))
            .where(ALUMNI)
        )
    ).one()  # fmt: skip
    channels = await session.execute(
        select(Identity.channel, func.count(func.distinct(Identity.person_id)))
        .where(Identity.person_id.in_(alumni_ids))
        .group_by(Identity.channel)
    )

    async def active(days: int) -> int:
        since = today - timedelta(days=days)
        moved = union(
            select(Interaction.person_a.label("pid")).where(Interaction.occurred_on > since),
            select(Interaction.person_b).where(Interaction.occurred_on > since),
            select(SurveyResponse.person_id).where(
                SurveyResponse.answered_at > now - timedelta(days=days)
            ),
        ).subquery()
        return await _count(session, select(func.count()).where(moved.c.pid.in_(alumni_ids)))

    this_month, last_month = _month_start(today), _month_start(today, 1)
    months = await session.execute(
        select(
            func.sum(case((Interaction.occurred_on >= this_month, 1), else_=0)),
            func.sum(case((Interaction.occurred_on < this_month, 1), else_=0)),
        ).where(Interaction.occurred_on >= last_month, Interaction.occurred_on <= today)
    )
    this_n, last_n = months.one()

    sent_to = (
        select(OutboxMessage.person_id)
        .where(OutboxMessage.kind == OutboxKind.CHECKIN, OutboxMessage.state == OutboxState.SENT)
        .where(OutboxMessage.sent_at >= d90)
        .distinct()
        .subquery()
    )
    checkins = (
        await session.execute(
            select(
                func.count(),
                func.sum(case((Person.last_checkin_at >= d90, 1), else_=0)),
            ).join(sent_to, sent_to.c.person_id == Person.id)
        )
    ).one()

    index = (SurveyResponse.rejoin + SurveyResponse.keep_in_touch + SurveyResponse.recommend) / 3.0
    periods = (
        await session.execute(
            select(SurveyResponse.period, func.avg(index), func.count())
            .where(SurveyResponse.rejoin.is_not(None), SurveyResponse.keep_in_touch.is_not(None))
            .where(SurveyResponse.recommend.is_not(None))
            .group_by(SurveyResponse.period)
            .order_by(SurveyResponse.period.desc())
            .limit(2)
        )
    ).all()

    openings = await _count(
        session, select(func.count()).select_from(Opening).where(Opening.status == "open")
    )
    interested = await _count(
        session,
        select(func.count())
        .select_from(Match)
        .where(Match.response == "interested", Match.created_at >= d90),
    )
    referrals = (
        await session.execute(
            select(
                func.sum(case((Referral.created_at >= d90, 1), else_=0)),
                func.sum(case((and_(Referral.status == "hired", Referral.updated_at >= d90), 1),
                              else_=0)),
            )
        )
    ).one()  # fmt: skip

    held = (
        select(Event.id)
        .where(Event.status != "cancelled", Event.starts_at >= d90, Event.starts_at <= now)
        .subquery()
    )
    events = (
        await session.execute(
            select(
                func.count(func.distinct(held.c.id)),
                func.sum(case(((Rsvp.status == "going") | Rsvp.attended.is_(True), 1), else_=0)),
                func.sum(case((Rsvp.attended.is_(True), 1), else_=0)),
            ).select_from(held).outerjoin(Rsvp, Rsvp.event_id == held.c.id)
        )
    ).one()  # fmt: skip

    perks = await _count(
        session, select(func.count()).select_from(PerkClaim).where(PerkClaim.claimed_at >= d30)
    )
    broadcast = await session.execute(
        select(OutboxMessage.state, func.count())
        .where(OutboxMessage.kind == "broadcast", OutboxMessage.created_at >= d30)
        .group_by(OutboxMessage.state)
    )
    latest = periods[0] if periods else None
    previous = periods[1] if len(periods) > 1 else None
    return Stats(
        alumni=int(totals[0] or 0),
        joined=int(totals[1] or 0),
        channels={str(c): int(n) for c, n in channels},
        active_30=await active(30),
        active_90=await active(90),
        interactions_this_month=int(this_n or 0),
        interactions_last_month=int(last_n or 0),
        checkins_sent=int(checkins[0] or 0),
        checkins_answered=int(checkins[1] or 0),
        index_period=latest[0] if latest else None,
        index=float(latest[1]) if latest else None,
        index_previous=float(previous[1]) if previous else None,
        index_answers=int(latest[2]) if latest else 0,
        open_openings=openings,
        interested=interested,
        referrals=int(referrals[0] or 0),
        rehires=int(referrals[1] or 0),
        events=int(events[0] or 0),
        event_going=int(events[1] or 0),
        event_attended=int(events[2] or 0),
        perk_claims=perks,
        broadcast_states={str(s): int(n) for s, n in broadcast},
    )
