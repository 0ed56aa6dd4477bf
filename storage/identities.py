"""A person's chat identities across places (company workspace, alumni workspace, a messenger):
which one the bot writes to, which are unreachable, and who can be reached nowhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core.platforms import DELIVERABLE, ELSEWHERE, LOCAL
from storage.db import Database
from storage.engagement import REACHABLE
from storage.models import Identity, MailContact, Person, Workspace

PROACTIVE = DELIVERABLE  # the channels proactive messages can go through
PREFERABLE = ELSEWHERE  # the ones a person can choose first (a local inbox is only a fallback)


async def mark_workspace_unreachable(
    db: Database, channel: str, workspace: str, reason: str
) -> int:
    """Everyone in a workspace the bot was removed from: unreachable there (their identities
    elsewhere take over). Returns how many identities changed."""
    if not workspace:
        return 0
    async with db.transaction() as session:
        result = await session.execute(
            update(Identity)
            .where(
                Identity.channel == channel,
                Identity.workspace == workspace,
                Identity.reachable.is_(True),
            )
            .values(reachable=False, unreachable_reason=reason)
        )
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


async def mark_unreachable(
    db: Database, channel: str, workspace: str, user_id: str, reason: str
) -> int:
    """One identity the platform says cannot be written to any more (LINE's unfollow): its
    person's other identities take over routing. Writing to the bot again undoes it."""
    async with db.transaction() as session:
        result = await session.execute(
            update(Identity)
            .where(
                Identity.channel == channel,
                Identity.workspace == workspace,
                Identity.user_id == user_id,
                Identity.reachable.is_(True),
            )
            .values(reachable=False, unreachable_reason=reason[:200])
        )
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


async def of(session: AsyncSession, person: Person) -> list[Identity]:
    """The person's identities, the one messages go to first."""
    rows = await session.scalars(
        select(Identity)
        .where(Identity.person_id == person.id)
        .order_by(Identity.reachable.desc(), Identity.priority, Identity.id)
    )
    return list(rows)


def preferred(found: list[Identity]) -> Identity | None:
    """Where proactive messages go first: as the delivery worker picks (a local inbox only for
    someone reachable nowhere else)."""
    usable = [i for i in found if i.reachable and i.channel in PROACTIVE]
    usable = [i for i in usable if i.channel not in LOCAL] or usable
    return min(usable, key=lambda i: (i.priority, i.id), default=None)


async def prefer(session: AsyncSession, person: Person, identity_id: int) -> Identity | None:
    """Make this identity (the person's own) the first choice; the others keep their order
    behind it. None when it is not theirs."""
    found = await of(session, person)
    chosen = next((i for i in found if i.id == identity_id), None)
    if chosen is None:
        return None
    others = sorted((i for i in found if i is not chosen), key=lambda i: (i.priority, i.id))
    chosen.priority = 0
    for n, identity in enumerate(others, start=1):
        identity.priority = n
    return chosen


async def workspace_names(session: AsyncSession) -> dict[tuple[str, str], str]:
    """(channel, workspace id) → the workspace's name, as far as the channels have told us."""
    rows = await session.scalars(select(Workspace))
    return {(w.channel, w.workspace): w.name for w in rows}


async def name_workspace(
    db: Database, channel: str, workspace: str, name: str, now: datetime
) -> None:
    """Remember a workspace's name (an installation, or the single token's team)."""
    if not workspace or not name:
        return
    async with db.transaction() as session:
        found = await session.get(Workspace, (channel, workspace))
        if found is None:
            session.add(Workspace(channel=channel, workspace=workspace, name=name, updated_at=now))
        elif found.name != name:
            found.name, found.updated_at = name, now


NOWHERE = (Person.left_on.isnot(None), Person.forgotten_at.is_(None), ~REACHABLE)
# Mail reaches a leaver only at a private address (the company's closes with the account), and
# not after they unsubscribed or it bounced (storage/mail.py's `mailable`).
BARRED = exists().where(
    MailContact.person_id == Person.id,
    or_(MailContact.unsubscribed_at.isnot(None), MailContact.bounced_at.isnot(None)),
)


async def reachable_nowhere(
    session: AsyncSession, limit: int = 50, offset: int = 0
) -> tuple[int, list[Person]]:
    """Alumni whom no proactive message can reach (never joined, or every identity gone): the
    total, and `limit` of them by name from `offset` (their identities loaded)."""
    query = select(Person).where(*NOWHERE).order_by(Person.name, Person.id)
    rows = list(await session.scalars(
        query.options(selectinload(Person.identities)).limit(limit).offset(offset)))  # fmt: skip
    total = offset + len(rows)
    if len(rows) == limit or (offset and not rows):
        total = int(
            await session.scalar(select(func.count()).select_from(Person).where(*NOWHERE)) or 0
        )
    return total, rows


@dataclass(frozen=True)
class Reach:
    no_chat: int  # alumni no chat reaches (the chat's `reach`)
    no_address: int  # of those, without a private mail address
    barred: int  # of those with one, unsubscribed or bounced
    paused: int  # alumni who paused the bot: reachable, but everything waits

    @property
    def nowhere(self) -> int:
        return self.no_address + self.barred


async def reach(session: AsyncSession) -> Reach:
    """The counts of the console's Reach page: one pass over those no chat reaches, one count
    of who paused."""
    none = Person.private_email.is_(None)
    counts = (func.count(), func.count().filter(none), func.count().filter(~none, BARRED))
    found = (await session.execute(select(*counts).where(*NOWHERE))).one()
    paused = await session.scalar(
        select(func.count()).where(
            Person.left_on.isnot(None), Person.forgotten_at.is_(None), Person.paused.is_(True)
        )
    )
    return Reach(int(found[0]), int(found[1]), int(found[2]), int(paused or 0))


async def chosen_locale(session: AsyncSession, channel: str, user_id: str) -> str | None:
    """The language a platform user chose in the bot, if they joined and chose one."""
    query = (
        select(Person.locale)
        .join(Identity, Identity.person_id == Person.id)
        .where(Identity.channel == channel, Identity.user_id == user_id)
        .where(Person.forgotten_at.is_(None))
    )
    return (await session.scalars(query)).first()
