"""The console's Events and Perks pages over HTTP (httpx against the ASGI app): the roles each
page needs, the chat's validation and side effects (invitations and notices in the outbox)
through the web, and who sees names."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from bot.core.clock import FixedClock
from bot.runtime.app import App
from storage import events as event_store
from storage import perks as perk_store
from storage.models import AuditEntry, Event, OutboxMessage, Perk, PerkCode, Person, Rsvp
from tests.test_console_web_pages import ALLOWED, sign_in, web

__all__ = ["web"]  # the fixture, used by name

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    found = CSRF.search((await client.get(path)).text)
    assert found, path
    return found.group(1)


async def upcoming_with_rsvps(app: App) -> Event:
    async with app.db.transaction() as session:
        event = await session.scalar(
            select(Event)
            .where(Event.ends_at > app.clock.now(), Event.title == "アルムナイ忘年会")
            .limit(1)
        )
        assert event is not None
        return event


async def count(app: App, model: type[object]) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def new_event_form(csrf: str, starts: str) -> dict[str, str]:
    return {"csrf": csrf, "title": "新年会 2027", "description": "", "timezone": "Asia/Tokyo",
            "starts_at": starts, "ends_at": "2099-01-10 21:00", "place": "東京本社",
            "online_url": "", "capacity": "30", "rsvp_deadline": "", "segment": "all"}  # fmt: skip


@pytest.mark.parametrize("role", ["hr", "admin"])
async def test_the_pages_check_the_role(app: App, web: httpx.AsyncClient, role: str) -> None:
    event = await upcoming_with_rsvps(app)
    pages = {p: roles for p, roles in ALLOWED.items() if "/events" in p or "/perks" in p}
    pages |= {f"/admin/events/{event.id}": {"hr", "admin"},
              f"/admin/events/{event.id}/edit": {"hr", "admin"}}  # fmt: skip
    assert len(pages) >= 6
    for path in pages:
        assert (await web.get(path)).status_code == 401, path  # no session
    await sign_in(app, web, f"{role}@example.com")
    for path, roles in pages.items():
        assert (await web.get(path)).status_code == (200 if role in roles else 403), path
    csrf = await csrf_of(web, "/admin/events")
    marked = await web.post(f"/admin/events/{event.id}/attend", data={"csrf": csrf, "person": "1"})
    assert marked.status_code == 400  # too early to mark, for HR and admins alike (as in chat)


async def test_a_bad_date_gives_the_friendly_line_and_creates_nothing(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "hr@example.com")
    csrf = await csrf_of(web, "/admin/events/new")
    events, queued = await count(app, Event), await count(app, OutboxMessage)
    answer = await web.post("/admin/events/new", data=new_event_form(csrf, "来週のどこか"))
    assert answer.status_code == 400
    assert "開始日時: 2026-04-01 18:30 のように日時を入力してください。" in answer.text
    assert 'value="新年会 2027"' in answer.text  # what was typed is kept
    assert (await count(app, Event), await count(app, OutboxMessage)) == (events, queued)


async def test_an_event_created_on_the_web_invites_as_the_chat_does(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "hr@example.com")
    csrf = await csrf_of(web, "/admin/events/new")
    queued = await count(app, OutboxMessage)
    answer = await web.post("/admin/events/new", data=new_event_form(csrf, "2099-01-10 19:00"))
    assert answer.status_code == 303
    page = await web.get(answer.headers["location"])
    assert "新年会 2027" in page.text and "イベントを作成し" in page.text
    assert "19:00–21:00 (Asia/Tokyo)" in page.text
    assert await count(app, OutboxMessage) > queued  # the invitations
    listed = await web.get("/admin/events")
    assert "新年会 2027" in listed.text
    async with app.db.transaction() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "event_create"))
    assert entry is not None and entry.detail["via"] == "web"


async def test_cancelling_tells_everyone_who_answered(app: App, web: httpx.AsyncClient) -> None:
    event = await upcoming_with_rsvps(app)
    async with app.db.transaction() as session:
        answered = await session.scalar(
            select(func.count()).where(Rsvp.event_id == event.id, Rsvp.status != "no")
        )
    assert answered
    await sign_in(app, web, "hr@example.com")
    csrf = await csrf_of(web, f"/admin/events/{event.id}")
    answer = await web.post(f"/admin/events/{event.id}/cancel", data={"csrf": csrf})
    assert answer.status_code == 303
    assert "中止し" in (await web.get(answer.headers["location"])).text
    async with app.db.transaction() as session:
        told = await session.scalar(
            select(func.count()).where(OutboxMessage.idempotency_key.like(f"ev:{event.id}:v1:%"))
        )
        status = await session.scalar(select(Event.status).where(Event.id == event.id))
    assert told == answered and status == "cancelled"
    again = await web.post(f"/admin/events/{event.id}/cancel", data={"csrf": csrf})
    assert again.status_code == 400  # already cancelled: the chat's refusal, nobody told twice


async def test_hr_sees_the_counts_and_admins_the_names(app: App, web: httpx.AsyncClient) -> None:
    event = await upcoming_with_rsvps(app)
    async with app.db.transaction() as session:
        someone = await session.scalar(
            select(Person.name).join(Rsvp, Rsvp.person_id == Person.id)
            .where(Rsvp.event_id == event.id).limit(1)
        )  # fmt: skip
    assert someone
    await sign_in(app, web, "hr@example.com")
    page = await web.get(f"/admin/events/{event.id}")
    assert 'id="counts"' in page.text and someone not in page.text
    await sign_in(app, web, "admin@example.com")
    assert someone in (await web.get(f"/admin/events/{event.id}")).text


async def test_a_perk_created_on_the_web_and_its_claims(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "hr@example.com")
    csrf = await csrf_of(web, "/admin/perks/new")
    form = {"csrf": csrf, "title": "書籍購入補助", "eligibility": "all", "codes": "A1 B2 C3"}
    answer = await web.post("/admin/perks/new", data=form)
    assert answer.status_code == 303
    listed = await web.get(answer.headers["location"])
    assert "特典を作成しました。" in listed.text and "書籍購入補助" in listed.text
    async with app.db.transaction() as session:
        perk = await session.scalar(select(Perk).where(Perk.title == "書籍購入補助"))
        assert perk is not None
        codes = await session.scalar(select(func.count()).where(PerkCode.perk_id == perk.id))
        alumna = await session.scalar(select(Person).where(Person.email == "hanako@example.com"))
        assert alumna is not None
        await perk_store.claim(session, perk, alumna.id, app.clock.now())
    assert codes == 3
    claims = await web.get(f"/admin/perks/{perk.id}")
    assert "利用 1 件" in claims.text and alumna.name not in claims.text  # HR: how many
    await sign_in(app, web, "admin@example.com")
    assert alumna.name in (await web.get(f"/admin/perks/{perk.id}")).text  # admins: who


async def test_a_perk_without_a_way_to_redeem_is_refused(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "hr@example.com")
    csrf = await csrf_of(web, "/admin/perks/new")
    perks = await count(app, Perk)
    answer = await web.post("/admin/perks/new", data={"csrf": csrf, "title": "x", "codes": ""})
    assert answer.status_code == 400 and 'id="problem"' in answer.text
    assert await count(app, Perk) == perks


async def test_an_edit_on_the_web_tells_those_who_answered(
    app: App, web: httpx.AsyncClient
) -> None:
    event = await upcoming_with_rsvps(app)
    await sign_in(app, web, "hr@example.com")
    form = await web.get(f"/admin/events/{event.id}/edit")
    assert 'value="アルムナイ忘年会"' in form.text  # the chat's form, filled in
    sent = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.text))
    sent |= dict(re.findall(r'<textarea name="(\w+)"[^>]*>([^<]*)</textarea>', form.text))
    unchanged = await web.post(f"/admin/events/{event.id}/edit", data=sent)
    assert unchanged.headers["location"].endswith("done=unchanged")
    sent["place"] = "東京本社 21F"
    changed = await web.post(f"/admin/events/{event.id}/edit", data=sent)
    assert changed.status_code == 303 and changed.headers["location"].endswith("done=updated")
    assert "東京本社 21F" in (await web.get(changed.headers["location"])).text
    async with app.db.transaction() as session:
        told = await session.scalar(
            select(func.count()).where(OutboxMessage.idempotency_key.like(f"ev:{event.id}:v1:%"))
        )
    assert told


async def test_from_check_in_hr_sees_who_is_expected_and_marks_who_came(
    app: App, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    """As the chat's `attendance` shows HR: names and a button each, once check-in opens."""
    event = await upcoming_with_rsvps(app)
    async with app.db.transaction() as session:
        pid, name = (await session.execute(
            select(Person.id, Person.name).join(Rsvp, Rsvp.person_id == Person.id)
            .where(Rsvp.event_id == event.id, Rsvp.status == "going").limit(1)
        )).one()  # fmt: skip
    clock.current = event.starts_at - event_store.CHECKIN_OPENS
    await sign_in(app, web, "hr@example.com")
    page = await web.get(f"/admin/events/{event.id}")
    assert name in page.text
    csrf = await csrf_of(web, f"/admin/events/{event.id}")
    marked = await web.post(f"/admin/events/{event.id}/attend", data={"csrf": csrf, "person": pid})
    assert marked.status_code == 303
    async with app.db.transaction() as session:
        rsvp = await event_store.rsvp_of(session, event.id, pid)
    assert rsvp is not None and rsvp.attended
