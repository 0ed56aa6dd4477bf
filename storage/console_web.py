"""Sign-in to the web console: one-time login links and browser sessions (bot/runtime/admin/).

A token is 32 random bytes (URL-safe); only its SHA-256 is stored, so the table alone signs
nobody in."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import AdminSession, LoginLink, Person, Role
from storage.people import roles_of

LINK_LIFETIME = timedelta(minutes=15)
SESSION_IDLE = timedelta(hours=8)
LINKS_PER_LIFETIME = 5  # a person's links in any 15 minutes: more is someone hammering


class TooManyLinks(Exception):
    pass


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def issue_link(session: AsyncSession, person: Person, now: datetime) -> str:
    """A new login link's token for this person (the caller has checked their roles); at most
    LINKS_PER_LIFETIME in any 15 minutes (TooManyLinks)."""
    recent = await session.scalar(
        select(func.count())
        .select_from(LoginLink)
        .where(LoginLink.person_id == person.id, LoginLink.created_at > now - LINK_LIFETIME)
    )
    if (recent or 0) >= LINKS_PER_LIFETIME:
        raise TooManyLinks()
    token = new_token()
    session.add(
        LoginLink(
            token_hash=digest(token),
            person_id=person.id,
            expires_at=now + LINK_LIFETIME,
            created_at=now,
        )
    )
    await session.flush()
    return token


@dataclass(frozen=True)
class Redeemed:
    """What a login link turned out to be; `person_id` is whose it was (for the language of the
    page saying it is used or expired): only `ok` signs anyone in."""

    person_id: int | None
    reason: str  # "ok" | "unknown" | "used" | "expired"

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


async def _link(session: AsyncSession, token: str, now: datetime) -> tuple[Redeemed, int]:
    link = await session.scalar(select(LoginLink).where(LoginLink.token_hash == digest(token)))
    if link is None:
        return Redeemed(None, "unknown"), 0
    if link.used_at is not None:
        return Redeemed(link.person_id, "used"), link.id
    if now >= link.expires_at:
        return Redeemed(link.person_id, "expired"), link.id
    return Redeemed(link.person_id, "ok"), link.id


async def peek_link(session: AsyncSession, token: str, now: datetime) -> Redeemed:
    """What a link is, without using it (the page a link preview may fetch)."""
    return (await _link(session, token, now))[0]


async def redeem_link(session: AsyncSession, token: str, now: datetime) -> Redeemed:
    """Use a link once: of two requests racing with the same token, only the one whose UPDATE
    marks it used wins."""
    found, link_id = await _link(session, token, now)
    if not found.ok:
        return found
    won = await session.execute(
        update(LoginLink)
        .where(LoginLink.id == link_id, LoginLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(won, "rowcount", 0) != 1:
        return Redeemed(found.person_id, "used")
    return found


async def open_session(session: AsyncSession, person_id: int, now: datetime) -> str:
    token = new_token()
    session.add(
        AdminSession(
            token_hash=digest(token), person_id=person_id, created_at=now, last_seen_at=now
        )
    )
    await session.flush()
    return token


async def session_person(session: AsyncSession, token: str, now: datetime) -> int | None:
    """The person of a live session, which this request keeps alive; None when it ended."""
    row = await session.get(AdminSession, digest(token))
    if row is None:
        return None
    if now - row.last_seen_at >= SESSION_IDLE:
        await session.delete(row)
        return None
    row.last_seen_at = now
    return row.person_id


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(AdminSession).where(AdminSession.token_hash == digest(token)))


LINKS_KEPT = timedelta(days=1)  # a used or expired link, then deleted by housekeeping
SESSIONS_KEPT = timedelta(days=30)  # a session that ended (8 hours idle), then deleted


async def forget_old(db: Database, now: datetime) -> int:
    """Housekeeping: delete links used or expired a day ago and sessions ended 30 days ago
    (logging out deletes its session at once)."""
    async with db.transaction() as session:
        links = await session.execute(
            delete(LoginLink).where(
                or_(LoginLink.used_at < now - LINKS_KEPT, LoginLink.expires_at < now - LINKS_KEPT)
            )
        )
        ended = await session.execute(
            delete(AdminSession).where(
                AdminSession.last_seen_at < now - SESSION_IDLE - SESSIONS_KEPT
            )
        )
        assert isinstance(links, CursorResult) and isinstance(ended, CursorResult)
        return links.rowcount + ended.rowcount


CONSOLE_ROLES = frozenset({Role.HR, Role.ADMIN})


def may_sign_in(person: Person | None) -> bool:
    """HR and admins only; a forgotten person is nobody."""
    return person is not None and not person.is_forgotten and bool(roles_of(person) & CONSOLE_ROLES)


def login_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/admin/login/{token}"
