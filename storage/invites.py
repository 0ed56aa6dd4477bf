"""Invite codes: single or multi use, with an expiry."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Invite, Person

# No 0/O, 1/I/L: codes are read aloud and typed from paper.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(8))


async def create(
    session: AsyncSession,
    *,
    person: Person | None,
    created_by: int | None,
    now: datetime,
    days: int,
    max_uses: int = 1,
) -> Invite:
    invite = Invite(
        code=new_code(),
        person_id=person.id if person else None,
        max_uses=max_uses,
        uses=0,
        expires_at=now + timedelta(days=days),
        created_by=created_by,
        created_at=now,
    )
    session.add(invite)
    await session.flush()
    return invite


async def find(session: AsyncSession, code: str) -> Invite | None:
    normalised = code.strip().upper().replace("-", "")
    return (await session.scalars(select(Invite).where(Invite.code == normalised))).first()


def problem(invite: Invite | None, now: datetime) -> str | None:
    """Why this invite cannot be used now (a message key), or None."""
    if invite is None or invite.revoked:
        return "join.unknown_code"
    if invite.expires_at <= now:
        return "join.expired_code"
    if invite.uses >= invite.max_uses:
        return "join.used_code"
    return None


async def revoke(session: AsyncSession, code: str) -> Invite | None:
    """Make a code unusable from now on (`join` answers as for an unknown code); None when no
    such code exists. Revoking twice is harmless."""
    invite = await find(session, code)
    if invite is not None:
        invite.revoked = True
        await session.flush()
    return invite
