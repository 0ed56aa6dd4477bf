"""A person's own data: everything we hold about them, and forgetting them.

Forgetting keeps anonymised counts (interactions, survey scores, RSVPs stay, tied to a person
row with no name, contact or free text) so aggregate reports stay true; exports and every
personal view skip forgotten people."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import inbox
from storage.models import (
    AdminSession,
    BroadcastClick,
    CampaignInvitation,
    Identity,
    Interaction,
    Invite,
    LoginLink,
    MailContact,
    Match,
    OutboxMessage,
    OutboxState,
    Outcome,
    PerkClaim,
    Person,
    Referral,
    Relation,
    RoleGrant,
    Rsvp,
    SurveyResponse,
)

# What forgetting keeps of a person's own row, so aggregate reports stay true: no name, contact,
# free text, preference or schedule. Every other column is cleared, a column added later too.
KEPT_WHEN_FORGOTTEN = frozenset({
    "id", "department", "joined_on", "left_on", "join_route", "comeback", "locale",
    "checkin_cadence", "paused", "forgotten_at", "created_at", "updated_at",
})  # fmt: skip
BLANK: dict[str, Any] = {
    "name": "—", "skills": [], "desired_roles": [], "opt_outs": [], "unanswered_checkins": 0,
    "notices": "normal",
}  # fmt: skip
# Every column of a person's row and of their identities goes into `mydata`.
PERSON_FIELDS = tuple(
    c.key for c in Person.__table__.columns if c.key not in ("id", "forgotten_at")
)
IDENTITY_FIELDS = tuple(
    c.key for c in Identity.__table__.columns if c.key not in ("id", "person_id")
)

# Each table that points at a person, and what happens to it: its rows are exported by
# `export` and handled by `forget`, or why they are not the person's own data.
TABLES = {
    "identities": "exported; deleted",
    "relations": "exported; deleted (who worked with whom identifies her)",
    "interactions": "exported (notes only their author's); notes cleared, counts kept",
    "survey_responses": "exported; scores kept anonymous",
    "referrals": "exported; as candidate: name, contact, reasons cleared; as referrer: her words",
    "rsvps": "exported; kept anonymous for attendance counts",
    "perk_claims": "exported; kept anonymous for claim counts",
    "outcomes": "exported; note and salary cleared, kind, day and value kept anonymous in totals",
    "invites": "deleted",
    "outbox": "deleted, and others' undelivered messages that name her",
    "matches": "deleted",
    "broadcast_clicks": "deleted",
    "role_grants": "their roles deleted; a grant they made keeps their id, for accountability",
    "audit_log": "not theirs: the record of what was done, by person id only",
    "events": "not theirs: the company's events, owned by HR",
    "openings": "not theirs: the company's openings, owned by HR",
    "perks": "not theirs: the company's perks, owned by HR",
    "perk_codes": "not theirs: the partner's codes; a claimed code is the claim",
    "broadcasts": "not theirs: the company's announcements",
    "mail_contacts": "exported; deleted (her address is cleared with her row: no mail can go)",
    "campaign_invitations": "exported; address cleared, kept anonymous for the funnel's counts",
    "campaigns": "not theirs: HR's invitation campaigns",
    "admin_login_links": "deleted (a login link signs in nobody once they are forgotten)",
    "admin_sessions": "deleted (their web console sessions end)",
}


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
    results = await session.scalars(
        select(Outcome).where(Outcome.person_id == pid).order_by(Outcome.id)
    )
    contact = await session.get(MailContact, pid)
    invited = await session.scalars(
        select(CampaignInvitation).where(CampaignInvitation.person_id == pid)
    )
    return {
        "person": _row(person, *PERSON_FIELDS),
        "identities": [_row(i, *IDENTITY_FIELDS) for i in ids],
        "relations": [_row(r, "person_id", "other_id", "kind") for r in rels],
        "interactions": [
            # A note is its author's: the other person's private words are not in my data.
            {
                **_row(i, "person_a", "person_b", "kind", "occurred_on", "source"),
                "note": i.note if i.logged_by == pid else None,
            }
            for i in inter
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
        "outcomes": [
            _row(
                o,
                "kind",
                "value_yen",
                "occurred_on",
                "currency",
                "amount",
                "rate",
                "salary_yen",
                "note",
                "source",
                "withdrawn_at",
                "created_at",
            )
            for o in results
        ],
        "mail": _row(contact, "unsubscribed_at", "bounced_at", "bounce_reason")
        if contact
        else None,
        "mail_invitations": [
            _row(i, "campaign_id", "address", "created_at", "reminded_at") for i in invited
        ],
    }


def _month(day: date) -> date:
    return day.replace(day=1)


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def blur_dates(joined: date | None, left: date | None) -> tuple[date | None, date | None]:
    """Months instead of days, with the same tenure in whole months (tenure_months), which is
    what reports count: exact dates with a department single a person out."""
    if left is None:
        return (_month(joined) if joined else None), None
    if joined is None:
        return None, _month(left)
    months = (left.year - joined.year) * 12 + left.month - joined.month
    months -= 1 if left.day < joined.day else 0
    return _months_back(_month(left), max(months, 0)), _month(left)


def _squeezed(text: str) -> str:
    return "".join(text.split()).casefold()


async def drop_messages_naming(session: AsyncSession, names: list[str]) -> int:
    """Undelivered messages to others that quote one of these names (an intro, a nudge to say
    hello): once she is forgotten they must not go out. Broadcasts are the company's own."""
    wanted = {_squeezed(n) for n in names if len(_squeezed(n)) >= 2}
    if not wanted:
        return 0
    rows = await session.execute(
        select(OutboxMessage.id, OutboxMessage.payload).where(
            OutboxMessage.state.in_([OutboxState.QUEUED, OutboxState.FAILED]),
            OutboxMessage.broadcast_id.is_(None),
        )
    )
    doomed = [
        mid
        for mid, payload in rows
        if any(n in _squeezed(json.dumps(payload, ensure_ascii=False)) for n in wanted)
    ]
    for start in range(0, len(doomed), 1000):
        await session.execute(
            delete(OutboxMessage).where(OutboxMessage.id.in_(doomed[start : start + 1000]))
        )
    return len(doomed)


async def forget(session: AsyncSession, person: Person, now: datetime) -> None:
    pid = person.id
    await drop_messages_naming(session, [person.name, person.name_kana or ""])
    person.joined_on, person.left_on = blur_dates(person.joined_on, person.left_on)
    for column in PERSON_FIELDS:
        if column not in KEPT_WHEN_FORGOTTEN:
            setattr(person, column, BLANK.get(column))
    person.paused = True
    person.forgotten_at = person.updated_at = now
    # Through the ORM: the caller's own identity is loaded in this session. Form states and
    # button tokens go with it (ON DELETE CASCADE).
    mine = list(await session.scalars(select(Identity).where(Identity.person_id == pid)))
    # The inbox points at no person, but holds what her own chats sent until it is handled.
    await inbox.forget_conversations(
        session, [(i.channel, inbox.private_conversation(i.workspace, i.user_id)) for i in mine]
    )
    for identity in mine:
        await session.delete(identity)
    await session.execute(delete(Invite).where(Invite.person_id == pid))
    await session.execute(delete(OutboxMessage).where(OutboxMessage.person_id == pid))
    await session.execute(delete(Match).where(Match.person_id == pid))
    await session.execute(delete(MailContact).where(MailContact.person_id == pid))
    await session.execute(
        update(CampaignInvitation)
        .where(CampaignInvitation.person_id == pid)
        .values(address="—", remind_at=None)
    )
    await session.execute(delete(BroadcastClick).where(BroadcastClick.person_id == pid))
    await session.execute(delete(RoleGrant).where(RoleGrant.person_id == pid))
    await session.execute(delete(LoginLink).where(LoginLink.person_id == pid))
    await session.execute(delete(AdminSession).where(AdminSession.person_id == pid))
    await session.execute(
        delete(Relation).where(or_(Relation.person_id == pid, Relation.other_id == pid))
    )
    await session.execute(
        update(Referral).where(Referral.referrer_id == pid).values(relationship_=None, why=None)
    )
    await session.execute(
        update(Outcome).where(Outcome.person_id == pid).values(note=None, salary_yen=None)
    )
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
