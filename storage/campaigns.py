"""Invitation campaigns (handlers/invitations.py): who in a segment gets an invitation mail and
why the others do not, writing a campaign's invitations in bulk, and the reminders due.

A person is invited when they are in the segment, have an address, have not joined (no consent,
no code of theirs used), have no live invitation code, were never invited by mail before, and
did not unsubscribe (nor bounce). So running a campaign again invites nobody twice."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.invites import ALPHABET
from storage.models import (
    Campaign,
    CampaignInvitation,
    Invite,
    MailContact,
    Person,
)
from storage.outbox import insert_ignore
from storage.segments import Segment, segment_clause

SKIPS = ("no_email", "joined", "unsubscribed", "invited")  # why someone is not invited, in order


@dataclass(frozen=True)
class Invitee:
    person_id: int
    name: str
    address: str
    locale: str | None


def joined() -> Any:
    """A condition on `people`: they joined (consented, or used a code of theirs)."""
    used = exists().where(Invite.person_id == Person.id, Invite.uses > 0)
    return or_(Person.consent_at.is_not(None), used)


def _unmailable() -> Any:
    return exists().where(
        MailContact.person_id == Person.id,
        or_(MailContact.unsubscribed_at.is_not(None), MailContact.bounced_at.is_not(None)),
    )


def _invited(now: datetime) -> Any:
    live = exists().where(
        Invite.person_id == Person.id,
        Invite.revoked.is_(False),
        Invite.uses < Invite.max_uses,
        Invite.expires_at > now,
    )
    mailed = exists().where(CampaignInvitation.person_id == Person.id)
    return or_(live, mailed)


def _reason(now: datetime) -> Any:
    return case(
        (and_(Person.email.is_(None), Person.private_email.is_(None)), "no_email"),
        (joined(), "joined"),
        (_unmailable(), "unsubscribed"),
        (_invited(now), "invited"),
        else_="eligible",
    )


def _in(segment: Segment, dialect: str) -> list[Any]:
    return [Person.forgotten_at.is_(None), segment_clause(segment, dialect)]


async def preview(session: AsyncSession, segment: Segment, now: datetime) -> dict[str, int]:
    """How many of the segment would be invited (`eligible`), and how many are skipped, by why."""
    dialect = session.get_bind().dialect.name
    reason = _reason(now).label("reason")
    rows = await session.execute(
        select(reason, func.count()).where(*_in(segment, dialect)).group_by(reason)
    )
    counts = dict.fromkeys(("eligible", *SKIPS), 0)
    counts.update({r: n for r, n in rows.all()})
    return counts


async def eligible(session: AsyncSession, segment: Segment, now: datetime) -> list[int]:
    """The ids of everyone to invite, in one query. Asked once, before a campaign writes
    anything: asked again page by page, each page would be planned against the tables the
    campaign itself is filling (on PostgreSQL, with statistics of empty tables: scans)."""
    dialect = session.get_bind().dialect.name
    query = select(Person.id).where(*_in(segment, dialect), _reason(now) == "eligible")
    return list(await session.scalars(query.order_by(Person.id)))


async def invitees(session: AsyncSession, ids: Sequence[int]) -> list[Invitee]:
    """Who these people are, for their invitations (a page of `eligible`)."""
    rows = await session.execute(
        select(Person.id, Person.name, Person.private_email, Person.email, Person.locale)
        .where(Person.id.in_(ids))
        .order_by(Person.id)
    )
    return [
        Invitee(pid, name, private or email or "", locale)
        for pid, name, private, email, locale in rows
    ]


def _codes(count: int) -> list[str]:
    fresh: set[str] = set()
    while len(fresh) < count:
        fresh.add("".join(secrets.choice(ALPHABET) for _ in range(8)))
    return list(fresh)


async def add_invitations(
    session: AsyncSession,
    campaign: Campaign,
    people: Sequence[Invitee],
    *,
    now: datetime,
    days: int,
    remind_after: timedelta,
) -> dict[int, str]:
    """One single-use invite code per person, and their campaign invitation: {person id: code}.
    A code already taken (a one in ~10^12 chance each) is skipped by the INSERT and drawn
    again; nothing is read to check, so the cost does not grow with the codes stored."""
    expires = now + timedelta(days=days)
    postgres = session.get_bind().dialect.name == "postgresql"
    codes: dict[int, str] = {}
    ids: dict[str, int] = {}
    pending = [p.person_id for p in people]
    while pending:
        drawn = _codes(len(pending))
        if postgres:  # one statement, not a row each (100,000 people queue in seconds)
            made = await session.execute(
                INVITES_UNNEST,
                {"codes": drawn, "people": pending, "expires": _stored(expires),
                 "by": campaign.author_id, "now": _stored(now)},
            )  # fmt: skip
        else:
            statement = insert_ignore(session, Invite.__table__).returning(
                Invite.person_id, Invite.code, Invite.id
            )
            rows = [
                {"code": code, "person_id": pid, "max_uses": 1, "uses": 0, "expires_at": expires,
                 "created_by": campaign.author_id, "created_at": now, "revoked": False}
                for pid, code in zip(pending, drawn, strict=True)
            ]  # fmt: skip
            made = await session.execute(statement, rows)
        for pid, code, invite_id in made.all():
            codes[pid], ids[code] = code, invite_id
        pending = [pid for pid in pending if pid not in codes]
    remind_at = now + remind_after
    if postgres:
        await session.execute(
            INVITATIONS_UNNEST,
            {"campaign": campaign.id, "people": [p.person_id for p in people],
             "invites": [ids[codes[p.person_id]] for p in people],
             "addresses": [p.address for p in people], "remind": _stored(remind_at),
             "now": _stored(now)},
        )  # fmt: skip
        return codes
    await session.execute(
        insert(CampaignInvitation),
        [
            {"campaign_id": campaign.id, "person_id": p.person_id, "address": p.address,
             "invite_id": ids[codes[p.person_id]], "remind_at": remind_at, "created_at": now}
            for p in people
        ],
    )  # fmt: skip
    return codes


def _stored(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)  # UTCDateTime's storage form


INVITES_UNNEST = text(
    "INSERT INTO invites (code, person_id, max_uses, uses, expires_at, created_by, created_at,"
    " revoked)"
    " SELECT c, p, 1, 0, :expires, CAST(:by AS integer), :now, false"
    " FROM unnest(CAST(:codes AS varchar[]), CAST(:people AS integer[])) AS v(c, p)"
    " ON CONFLICT DO NOTHING RETURNING person_id, code, id"
)
INVITATIONS_UNNEST = text(
    "INSERT INTO campaign_invitations (campaign_id, person_id, invite_id, address, remind_at,"
    " created_at)"
    " SELECT :campaign, p, i, a, :remind, :now FROM unnest(CAST(:people AS integer[]),"
    " CAST(:invites AS integer[]), CAST(:addresses AS varchar[])) AS v(p, i, a)"
)


@dataclass(frozen=True)
class Reminder:
    invitation_id: int
    person_id: int
    name: str
    locale: str | None
    code: str
    expires_at: datetime


async def due_reminders(
    session: AsyncSession, now: datetime, limit: int
) -> tuple[int, list[Reminder]]:
    """Invitations whose one reminder is due. Each is claimed (its `remind_at` cleared) whether
    or not a reminder goes: who joined, unsubscribed or holds a used-up code gets none."""
    query = (
        select(CampaignInvitation.id)
        .where(CampaignInvitation.remind_at <= now)
        .order_by(CampaignInvitation.remind_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(await session.scalars(query))
    if not ids:
        return 0, []
    code = aliased(Invite)  # the invitation's own code; `_joined` looks at all of theirs
    rows = await session.execute(
        select(
            CampaignInvitation.id, Person.id, Person.name, Person.locale, code.code,
            code.expires_at,
        )
        .join(Person, Person.id == CampaignInvitation.person_id)
        .join(code, code.id == CampaignInvitation.invite_id)
        .where(
            CampaignInvitation.id.in_(ids), Person.forgotten_at.is_(None), ~joined(),
            ~_unmailable(), code.revoked.is_(False), code.uses < code.max_uses,
            code.expires_at > now,
        )
    )  # fmt: skip
    found = [Reminder(*row) for row in rows.all()]
    await session.execute(
        update(CampaignInvitation)
        .where(CampaignInvitation.id.in_(ids))
        .values(remind_at=None)
        .execution_options(synchronize_session=False)
    )
    reminded = [r.invitation_id for r in found]
    if reminded:
        await session.execute(
            update(CampaignInvitation)
            .where(CampaignInvitation.id.in_(reminded))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(ids), found
