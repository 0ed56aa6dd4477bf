"""Mail contacts: the token in each person's unsubscribe link, unsubscribing (recorded and
audited, honoured by every later mail) and bounces (a 5xx reply: no more mail to that address).
Mail goes to `private_email` when set, else to `email`."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.platforms import MAIL
from bot.core.types import Reply
from storage import audit, outbox
from storage.models import MailContact, OutboxMessage, OutboxState, Person
from storage.outbox import insert_ignore, queue

CHUNK = 1000


def address_of(person: Person) -> str | None:
    return person.private_email or person.email


def mailable(contact: MailContact | None) -> bool:
    return contact is None or (contact.unsubscribed_at is None and contact.bounced_at is None)


async def contacts(session: AsyncSession, person_ids: Iterable[int]) -> dict[int, MailContact]:
    wanted = sorted(set(person_ids))
    found: dict[int, MailContact] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(MailContact).where(MailContact.person_id.in_(wanted[start : start + CHUNK]))
        found.update((c.person_id, c) for c in await session.scalars(query))
    return found


async def ensure_tokens(
    session: AsyncSession, person_ids: Sequence[int], now: datetime
) -> dict[int, str]:
    """Every person's unsubscribe token, their contact row created where there is none. New
    rows come back from the INSERT; only people who had one already are read."""
    found: dict[int, str] = {}
    for start in range(0, len(person_ids), CHUNK):
        chunk = person_ids[start : start + CHUNK]
        rows = [
            {"person_id": pid, "token": secrets.token_urlsafe(24), "created_at": now}
            for pid in chunk
        ]
        statement = insert_ignore(session, MailContact.__table__).returning(
            MailContact.person_id, MailContact.token
        )
        made = await session.execute(statement, rows)
        found.update((pid, token) for pid, token in made.all())
        had = await contacts(session, [pid for pid in chunk if pid not in found])
        found.update((pid, c.token) for pid, c in had.items())
    return found


async def by_token(session: AsyncSession, token: str) -> MailContact | None:
    if not token or len(token) > 64:
        return None
    return await session.scalar(select(MailContact).where(MailContact.token == token))


async def unsubscribe(session: AsyncSession, token: str, now: datetime, via: str) -> bool | None:
    """Stop every mail to the token's person: recorded, audited, and what is queued for them
    by mail is dropped. None: no such token; False: already unsubscribed."""
    contact = await by_token(session, token)
    if contact is None:
        return None
    if contact.unsubscribed_at is not None:
        return False
    contact.unsubscribed_at = now
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.person_id == contact.person_id,
            OutboxMessage.channel == MAIL,
            OutboxMessage.state.in_((OutboxState.QUEUED, OutboxState.FAILED)),
        )
        .values(state=OutboxState.DEAD, last_error="unsubscribed", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    await audit.record(
        session, now, contact.person_id, "mail_unsubscribe", f"person:{contact.person_id}", via=via
    )
    return True


async def record_bounces(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """5xx replies the delivery worker saw: {person_id, reason, at} each."""
    for row in rows:
        await session.execute(
            update(MailContact)
            .where(MailContact.person_id == row["person_id"], MailContact.bounced_at.is_(None))
            .values(bounced_at=row["at"], bounce_reason=str(row["reason"])[:200])
        )


async def forget_bounces(session: AsyncSession, person_ids: Sequence[int]) -> None:
    """These people's address changed: mail may be tried again (an unsubscribe still holds)."""
    for start in range(0, len(person_ids), CHUNK):
        await session.execute(
            update(MailContact)
            .where(MailContact.person_id.in_(person_ids[start : start + CHUNK]))
            .values(bounced_at=None, bounce_reason=None)
        )


async def enqueue(
    session: AsyncSession,
    *,
    person_id: int,
    reply: Reply,
    key: str,
    kind: str,
    now: datetime,
    not_before: datetime | None = None,
) -> bool:
    """Queue a mail for the person; False when this key was queued already. The address is
    read when it is sent (`address_of`), so a corrected one is used."""
    return await queue(
        session, key=key, reply=reply, kind=kind, now=now, not_before=not_before,
        person_id=person_id, channel=MAIL,
    )  # fmt: skip


async def enqueue_many(
    session: AsyncSession,
    messages: Sequence[tuple[int, str, dict[str, Any]]],
    *,
    kind: str,
    now: datetime,
) -> None:
    """Queue many mails at once: (person id, idempotency key, `Reply.to_dict()`) each; keys
    already queued are skipped. Callers pass bounded chunks."""
    await outbox.enqueue_many(session, messages, kind=kind, now=now, channel=MAIL)
