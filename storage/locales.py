"""The language a person chose, for the few words a channel says itself (a modal's Submit
button, "sent to you privately") outside the router's replies."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Identity, Person


async def chosen_locale(
    session: AsyncSession, channel: str, workspace: str, user_id: str
) -> str | None:
    query = (
        select(Person.locale)
        .join(Identity, Identity.person_id == Person.id)
        .where(Identity.channel == channel, Identity.user_id == user_id)
        .where(Identity.workspace.in_({workspace, ""}), Person.forgotten_at.is_(None))
        .order_by(Identity.workspace.desc())
    )
    return (await session.scalars(query)).first()
