"""A person's own data: everything we hold about them, and forgetting them.

Forgetting keeps anonymised counts (interactions, survey scores, RSVPs stay, tied to a person
row with no name, contact or free text) so aggregate reports stay true; exports and every
personal view skip forgotten people."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    BroadcastClick,
    Identity,
    Interaction,
    Invite,
    Match,
    OutboxMessage,
    PerkClaim,
    Person,
    Referral,
    Relation,
    Rsvp,
    SurveyResponse,
)

PERSON_FIELDS = (
    "email", "name", "name_kana", "department", "title", "joined_on", "left_on", "join_route",
    "leave_reason", "skills", "desired_roles", "location", "locale", "timezone", "comeback",
    "consent_at", "consent_version", "paused", "quiet_start", "quiet_end", "opt_outs",
    "checkin_cadence", "next_checkin_at", "next_survey_at", "created_at",
)  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {n: _plain(getattr(obj, n)) for n in names}


async def export(session: AsyncSession, person: Person) -> dict[str, Any]:
    pid = person.id
    ids = await session.scalars(select(Identity).where(Identity.person_id == pid))
    rels = await session.scalars(
        select(Relation).where(or_(Relation.person_id == pid, Relation.other_id == pid))
    )
    inter = await session.scalars(
        select(Interaction).where(or_(Interaction.person_a == pid, Interaction.person_b == pid))
    )
    surveys = await session.scalars(select(SurveyResponse).where(SurveyResponse.person_id == pid))
    refs = await session.scalars(
        select(Referral).where(
            or_(Referral.referrer_id == pid, Referral.candidate_person_id == pid)
        )
    )
    rsvps = await session.scalars(select(Rsvp).where(Rsvp.person_id == pid))
    claims = await session.scalars(select(PerkClaim).where(PerkClaim.person_id == pid))
    return {
        "person": _row(person, *PERSON_FIELDS),
        "identities": [_row(i, "channel", "workspace", "user_id", "reachable") for i in ids],
        "relations": [_row(r, "person_id", "other_id", "kind") for r in rels],
        "interactions": [
            _row(i, "person_a", "person_b", "kind", "occurred_on", "source", "note") for i in inter
        ],
        "surveys": [
            _row(s, "period", "rejoin", "keep_in_touch", "recommend", "answered_at")
            for s in surveys
        ],
        "referrals": [
            _row(r, "opening_id", "kind", "candidate_name", "status", "created_at") for r in refs
        ],
        "rsvps": [_row(r, "event_id", "status", "attended") for r in rsvps],
        "perk_claims": [_row(c, "perk_id", "claimed_at") for c in claims],
    }


async def forget(session: AsyncSession, person: Person, now: datetime) -> None:
    pid = person.id
    for column in ("email", "name_kana", "title", "leave_reason", "location", "timezone",
                   "quiet_start", "quiet_end", "next_checkin_at", "next_survey_at",
                   "next_nudge_at", "consent_at", "consent_version"):  # fmt: skip
        setattr(person, column, None)
    person.name = "—"
    person.skills, person.desired_roles, person.opt_outs = [], [], []
    person.paused = True
    person.forgotten_at = person.updated_at = now
    # Through the ORM: the caller's own identity is loaded in this session. Form states and
    # button tokens go with it (ON DELETE CASCADE).
    for identity in await session.scalars(select(Identity).where(Identity.person_id == pid)):
        await session.delete(identity)
    await session.execute(delete(Invite).where(Invite.person_id == pid))
    await session.execute(delete(OutboxMessage).where(OutboxMessage.person_id == pid))
    await session.execute(delete(Match).where(Match.person_id == pid))
    await session.execute(delete(BroadcastClick).where(BroadcastClick.person_id == pid))
    await session.execute(
        update(Interaction)
        .where(or_(Interaction.person_a == pid, Interaction.person_b == pid))
        .values(note=None)
    )
    await session.execute(
        update(Referral)
        .where(Referral.candidate_person_id == pid)
        .values(candidate_name="—", candidate_contact=None, why=None, candidate_person_id=None)
    )
