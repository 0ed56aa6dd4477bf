"""Members on a chat platform, joined through a real invite: what scheduled work can reach."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.types import Reply
from bot.runtime.app import App
from storage import invites, people
from storage.models import OutboxMessage, Person
from tests.conftest import chat
from tests.support.dialog import Chat


async def member(
    app: App, email: str, uid: str, locale: str = "en", tz: str = "Asia/Tokyo"
) -> Chat:
    async with app.db.transaction() as session:
        person = await people.person_by_email(session, email)
        assert person is not None
        code = await invites.create(
            session, person=person, created_by=None, now=app.clock.now(), days=1
        )
    me = chat(app, uid, channel="telegram", locale_hint=locale)
    await me.say(f"/start {code.code}")
    await me.press_action("onboarding.consent", "yes")
    await me.press_action("onboarding.locale", locale)
    await me.press_action("onboarding.tz", tz)
    return me


async def person(app: App, email: str) -> Person:
    async with app.db.transaction() as session:
        found = await people.person_by_email(session, email)
        assert found is not None
        return found


async def update_person(app: App, email: str, **values: object) -> None:
    async with app.db.transaction() as session:
        found = await people.person_by_email(session, email)
        assert found is not None
        for key, value in values.items():
            setattr(found, key, value)


async def outbox(
    app: App, kind: str | None = None
) -> list[tuple[str | None, Reply, OutboxMessage]]:
    """Queued messages: (recipient's email, the reply, the row)."""
    async with app.db.transaction() as session:
        query = select(OutboxMessage, Person.email).join(
            Person, Person.id == OutboxMessage.person_id
        )
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        rows = (await session.execute(query.order_by(OutboxMessage.id))).all()
    return [(email, Reply.from_dict(row.payload), row) for row, email in rows]
