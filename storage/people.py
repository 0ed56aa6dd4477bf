"""Queries about people, their chat identities and their roles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from bot.core.types import Actor
from storage.models import Identity, Person, Role, RoleGrant

# Built once: this runs for every message, and building the statement cost as much as running it.
_IDENTITY = (
    select(Identity)
    .options(
        joinedload(Identity.person).joinedload(Person.grants),
        joinedload(Identity.form_state),
    )
    .where(Identity.channel == bindparam("channel"), Identity.user_id == bindparam("user_id"))
    .where(or_(Identity.workspace == bindparam("workspace"), Identity.workspace == ""))
    .order_by(Identity.workspace.desc())
)


async def identity_for(session: AsyncSession, actor: Actor, now: datetime) -> Identity:
    """The identity for this actor, created on first contact, with its person, their grants
    and its form in progress loaded.

    An identity imported with only a user id (`slack_user_id` in a CSV has no workspace) is
    completed with the workspace the first time that user talks to us."""
    # One query for the identity, its person and their grants (joined, not three round trips:
    # this runs for every message). A row per grant, made unique; at most two identities match
    # (this workspace's, and one imported without a workspace), this workspace's first.
    where = {"channel": actor.channel, "user_id": actor.user_id, "workspace": actor.workspace}
    matches = (await session.scalars(_IDENTITY, where)).unique().all()
    found = matches[0] if matches else None
    if found is None:
        found = Identity(
            channel=actor.channel,
            workspace=actor.workspace,
            user_id=actor.user_id,
            display_name=actor.display_name,
            locale_hint=actor.locale_hint,
            created_at=now,
        )
        session.add(found)
        await session.flush()
        found.person = None
        set_committed_value(found, "form_state", None)
        if actor.verified_email:
            await _link_by_verified_email(session, found, actor.verified_email)
        return found
    if found.workspace != actor.workspace:
        found.workspace = actor.workspace
    if actor.locale_hint and found.locale_hint != actor.locale_hint:
        found.locale_hint = actor.locale_hint
    if actor.display_name and not found.display_name:
        found.display_name = actor.display_name
    return found


async def _link_by_verified_email(session: AsyncSession, identity: Identity, email: str) -> None:
    """A platform-verified email (Slack) links a new identity to the person with that email, as
    an invite would — unless they are forgotten or already have an account in that place (then
    this is someone else, and they join with an invite like anyone)."""
    person = await person_by_email(session, email)
    if person is None or person.is_forgotten:
        return
    taken = await session.scalar(
        select(func.count())
        .select_from(Identity)
        .where(
            Identity.person_id == person.id,
            Identity.channel == identity.channel,
            Identity.workspace == identity.workspace,
        )
    )
    if taken:
        return
    count = await session.scalar(
        select(func.count()).select_from(Identity).where(Identity.person_id == person.id)
    )
    identity.person_id, identity.priority = person.id, int(count or 0)
    await session.flush()
    await session.refresh(identity, ["person"])
    if identity.person is not None:
        await session.refresh(identity.person, ["grants"])


def roles_of(person: Person) -> frozenset[Role]:
    base = Role.ALUMNI if person.is_alumnus else Role.EMPLOYEE
    return frozenset({base, *(Role(g.role) for g in person.grants)})


async def person_with_roles(session: AsyncSession, person_id: int) -> Person | None:
    """A person with their role grants loaded (what `roles_of` reads)."""
    return await session.get(Person, person_id, options=[selectinload(Person.grants)])


async def person_by_email(session: AsyncSession, email: str) -> Person | None:
    query = (
        select(Person)
        .options(selectinload(Person.grants))
        .where(func.lower(Person.email) == email.strip().lower())
    )
    return (await session.scalars(query)).first()


async def grant(
    session: AsyncSession, person: Person, role: Role, by: Person | None, now: datetime
) -> bool:
    """Give a role; False when the person already had it."""
    await session.refresh(person, ["grants"])
    if role in roles_of(person):
        return False
    session.add(
        RoleGrant(person_id=person.id, role=role, granted_by=by.id if by else None, granted_at=now)
    )
    await session.flush()
    await session.refresh(person, ["grants"])
    return True


async def revoke(session: AsyncSession, person: Person, role: Role) -> bool:
    """Take a granted role back; False when the person did not have it."""
    grant_row = await session.scalar(
        select(RoleGrant).where(RoleGrant.person_id == person.id, RoleGrant.role == role.value)
    )
    if grant_row is None:
        return False
    await session.delete(grant_row)
    await session.flush()
    await session.refresh(person, ["grants"])
    return True


async def admins_left(session: AsyncSession) -> int:
    """How many people still hold the admin role (the last one cannot give it up)."""
    count = await session.scalar(
        select(func.count())
        .select_from(RoleGrant)
        .join(Person, Person.id == RoleGrant.person_id)
        .where(RoleGrant.role == Role.ADMIN.value, Person.forgotten_at.is_(None))
    )
    return int(count or 0)


async def resume_due(session: AsyncSession, now: datetime) -> list[int]:
    """End the pauses whose day has come (`pause until DATE`); the people resumed."""
    rows = await session.scalars(
        select(Person).where(Person.paused_until.isnot(None), Person.paused_until <= now)
    )
    resumed = []
    for person in rows:
        person.paused, person.paused_until, person.updated_at = False, None, now
        resumed.append(person.id)
    await session.flush()
    return resumed
