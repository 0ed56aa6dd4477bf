"""The web console's pages over HTTP (httpx against the ASGI app, no browser): every page needs
a session, the role it names and, on a POST, the session's CSRF token; a session ends at
logout or after 8 hours idle."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from bot.core.clock import FixedClock
from bot.runtime import admin
from bot.runtime.admin import auth
from bot.runtime.app import App
from bot.runtime.web import build_web_app
from storage import console_web, demo, people
from storage.models import AuditEntry, Person, Role
from tests.conftest import make_settings

PAGES = ["/admin", "/admin/interactions", "/admin/outcomes", "/admin/people", "/admin/audit"]
PAGES += ["/admin/broadcasts", "/admin/reach"]


@pytest.fixture
async def web(demo_company: App) -> AsyncIterator[httpx.AsyncClient]:
    app = demo_company
    await app.prepare()
    transport = httpx.ASGITransport(app=Starlette(routes=admin.routes(app)))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def link(app: App, email: str) -> str:
    async with app.db.transaction() as session:
        person = await people.person_by_email(session, email)
        assert person is not None
        return await console_web.issue_link(session, person, app.clock.now())


async def press_sign_in(web: httpx.AsyncClient, token: str) -> httpx.Response:
    """Open the link (a page with a button, nothing spent), then press its button."""
    shown = await web.get(f"/admin/login/{token}")
    assert shown.status_code == 200 and "set-cookie" not in shown.headers, shown.text
    assert 'action="/admin/login"' in shown.text and f'value="{token}"' in shown.text
    return await web.post("/admin/login", data={"token": token})


async def sign_in(app: App, web: httpx.AsyncClient, email: str) -> None:
    signed = await press_sign_in(web, await link(app, email))
    assert signed.status_code == 303, signed.text
    assert "httponly" in signed.headers["set-cookie"].lower()
    assert "samesite=lax" in signed.headers["set-cookie"].lower()


async def test_no_page_answers_without_a_session(web: httpx.AsyncClient) -> None:
    for path in PAGES:
        answer = await web.get(path)
        assert answer.status_code == 401 and "admin" in answer.text
    assert (await web.post("/admin/logout")).status_code == 401


async def test_hr_sees_the_dashboard_in_japanese_but_not_the_audit(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "hr@example.com")
    dashboard = await web.get("/admin")
    assert dashboard.status_code == 200
    assert '<html lang="ja">' in dashboard.text and "ダッシュボード" in dashboard.text
    assert "script-src" not in dashboard.headers["content-security-policy"]  # none allowed
    assert 'href="/admin/interactions"' in dashboard.text  # the header links HR's pages
    assert 'href="/admin/audit"' not in dashboard.text  # and no admin's
    assert (await web.get("/admin/interactions")).status_code == 200
    refused = await web.get("/admin/audit")
    assert refused.status_code == 403
    async with app.db.transaction() as session:
        targets = list(await session.scalars(select(AuditEntry.target).where(
            AuditEntry.action == "refused")))  # fmt: skip
    assert "web:/admin/audit" in targets


async def test_an_admin_sees_the_audit_log(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "admin@example.com")
    page = await web.get("/admin/audit")
    assert page.status_code == 200 and "admin_login" in page.text
    assert 'href="/admin/people"' in page.text


async def test_an_alumnas_link_opens_nothing(app: App, web: httpx.AsyncClient) -> None:
    async with app.db.transaction() as session:
        person = await people.person_by_email(session, "hanako@example.com")
        assert person is not None and not console_web.may_sign_in(person)
        token = await console_web.issue_link(session, person, app.clock.now())  # as if forged
    answer = await web.get(f"/admin/login/{token}")
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
    assert (await web.get("/admin")).status_code == 401


async def test_bad_filters_are_one_friendly_line(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "admin@example.com")
    answer = await web.get("/admin/interactions", params={"from": "2026-13-01"})
    assert answer.status_code == 400 and 'id="problem"' in answer.text
    ok = await web.get("/admin/interactions", params={"from": "2020-01-01", "segment": "all"})
    assert ok.status_code == 200 and 'id="rows"' in ok.text  # admins see who met whom


async def test_logout_needs_the_csrf_token_and_ends_the_session(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "admin@example.com")
    assert (await web.post("/admin/logout")).status_code == 403
    assert (await web.post("/admin/logout", data={"csrf": "forged"})).status_code == 403
    assert (await web.get("/admin")).status_code == 200  # still signed in
    token = web.cookies.get(admin.auth.COOKIE)
    assert token
    out = await web.post("/admin/logout", data={"csrf": admin.auth.csrf_token(token)})
    assert out.status_code == 200
    web.cookies.set(admin.auth.COOKIE, token, path="/admin")  # a copied cookie is dead too
    assert (await web.get("/admin")).status_code == 401


async def test_a_session_ends_after_8_hours_idle(
    app: App, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    await sign_in(app, web, "hr@example.com")
    clock.advance(hours=7)
    assert (await web.get("/admin")).status_code == 200  # a request keeps it alive
    clock.advance(hours=7, minutes=59)
    assert (await web.get("/admin")).status_code == 200
    clock.advance(hours=8)
    assert (await web.get("/admin")).status_code == 401


async def test_outcomes_totals_for_hr_and_the_ledger_for_admins(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "hr@example.com")
    hr = await web.get("/admin/outcomes", params={"from": "2020-01-01"})
    assert hr.status_code == 200 and "成果と ROI" in hr.text and "<h2>" in hr.text
    assert (await web.get("/admin/outcomes", params={"to": "nonsense"})).status_code == 400
    web.cookies.clear()
    await sign_in(app, web, "admin@example.com")
    admins = await web.get("/admin/outcomes", params={"from": "2020-01-01"})
    assert admins.status_code == 200
    assert admins.text.count("<h2>") >= hr.text.count("<h2>")


async def test_people_is_for_admins_and_finds_a_name_in_kana(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "hr@example.com")
    assert (await web.get("/admin/people")).status_code == 403
    web.cookies.clear()
    await sign_in(app, web, "admin@example.com")
    listed = await web.get("/admin/people", params={"segment": "alumni"})
    assert listed.status_code == 200 and 'id="people"' in listed.text
    async with app.db.transaction() as session:
        hanako = await people.person_by_email(session, "hanako@example.com")
        assert hanako is not None and hanako.name_kana
        name, kana = hanako.name, hanako.name_kana
    found = await web.get("/admin/people", params={"q": kana})
    assert found.status_code == 200 and name in found.text
    assert "<script>" not in (await web.get("/admin/people", params={"q": "<script>"})).text


def test_serve_answers_the_console(app: App) -> None:
    paths = {getattr(r, "path", "") for r in build_web_app(app, []).routes}
    assert {"/admin", "/admin/login/{token}", "/admin/login", "/admin/audit"} <= paths


async def test_the_cookie_is_secure_under_https(sqlite_url: str, clock: FixedClock) -> None:
    app = App.build(make_settings(sqlite_url, public_url="https://alumni.example.com"), clock)
    try:
        await app.prepare()
        async with app.db.transaction() as session:
            await demo.load(session, clock.now(), size=20)
        transport = httpx.ASGITransport(app=Starlette(routes=admin.routes(app)))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as web:
            signed = await press_sign_in(web, await link(app, "admin@example.com"))
        cookie = signed.headers["set-cookie"].lower()
        assert signed.status_code == 303 and "secure" in cookie and "httponly" in cookie
    finally:
        await app.close()


ALLOWED = {  # path: the roles whose session may open it
    "/admin": {"hr", "admin"},
    "/admin/interactions": {"hr", "admin"},
    "/admin/interactions.csv": {"admin"},
    "/admin/outcomes": {"hr", "admin"},
    "/admin/people": {"admin"},
    "/admin/audit": {"admin"},
    "/admin/openings": {"hr", "admin"},
    "/admin/openings/new": {"hr", "admin"},
    "/admin/openings/1": {"hr", "admin"},
    "/admin/openings/1/edit": {"hr", "admin"},
    "/admin/referrals": {"hr", "admin"},
    "/admin/broadcasts": {"hr", "admin"},
    "/admin/reach": {"hr", "admin"},
    "/admin/import": {"admin"},
    "/admin/invitations": {"hr", "admin"},
    "/admin/events": {"hr", "admin"},
    "/admin/events?past=1": {"hr", "admin"},
    "/admin/events/new": {"hr", "admin"},
    "/admin/perks": {"hr", "admin"},
    "/admin/perks/new": {"hr", "admin"},
}


@pytest.mark.parametrize("role", ["hr", "admin"])
async def test_every_page_checks_the_role(app: App, web: httpx.AsyncClient, role: str) -> None:
    await sign_in(app, web, f"{role}@example.com")
    for path, roles in ALLOWED.items():
        assert (await web.get(path)).status_code == (200 if role in roles else 403), path


async def test_an_employee_cannot_sign_in_and_a_revoked_role_ends_the_session(
    app: App, web: httpx.AsyncClient
) -> None:
    async with app.db.transaction() as session:
        employee = await session.scalar(
            select(Person).where(Person.left_on.is_(None), ~Person.grants.any()).limit(1)
        )
        assert employee is not None and employee.email
        token = await console_web.issue_link(session, employee, app.clock.now())
    assert (await web.get(f"/admin/login/{token}")).status_code == 403
    await sign_in(app, web, "hr@example.com")
    assert (await web.get("/admin")).status_code == 200
    async with app.db.transaction() as session:
        hr = await people.person_by_email(session, "hr@example.com")
        assert hr is not None
        await people.revoke(session, hr, Role.HR)
    assert (await web.get("/admin")).status_code == 401


async def test_admins_export_the_filtered_log(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "admin@example.com")
    every = await web.get("/admin/interactions.csv", params={"from": "2020-01-01"})
    assert every.status_code == 200 and every.content.startswith(b"\xef\xbb\xbf")  # Excel-safe
    assert "attachment" in every.headers["content-disposition"]
    sales = await web.get(
        "/admin/interactions.csv", params={"from": "2020-01-01", "segment": "department:営業"}
    )
    lines = every.content.decode("utf-8-sig").splitlines()
    some = sales.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("occurred_on") and 1 < len(some) < len(lines)


async def test_the_dashboard_shows_the_reports_chart(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "hr@example.com")
    assert 'src="/admin/chart/activity.png"' in (await web.get("/admin")).text
    png = await web.get("/admin/chart/activity.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert (await web.get("/admin/chart/nonsense.png")).status_code == 404


def _concrete(path: str) -> str:
    """A route's path with its parameters filled in: `{number:int}` → 1, `{section}` → activity."""
    return re.sub(r"\{section\}", "activity", re.sub(r"\{[a-z_]+(:int)?\}", "1", path))


@pytest.mark.parametrize("who", [None, "hr", "admin"])
async def test_every_route_and_method_checks_the_session_and_the_role(
    app: App, web: httpx.AsyncClient, who: str | None
) -> None:
    """Straight from the console's route table, so a new page is covered the day it is added:
    no session → 401; a role the page does not allow → 403 (a POST with a good CSRF token too);
    an allowed one → the page itself answers (never 401, 403 or 500). Alumni and employees
    cannot get a session at all (tests above)."""
    if who is not None:
        await sign_in(app, web, f"{who}@example.com")
    token = web.cookies.get(auth.COOKIE)
    csrf = {auth.CSRF_FIELD: auth.csrf_token(token)} if token else {}
    for entry in admin.PAGES:
        if entry.path == "/admin/logout":
            continue  # it ends the session; tested on its own
        for method in entry.methods:
            path = _concrete(entry.path)
            answer = await (web.get(path) if method == "GET" else web.post(path, data=csrf))
            where = (method, path, who)
            if who is None:
                assert answer.status_code == 401, where
            elif Role(who) in entry.roles:
                assert answer.status_code not in (401, 403, 500), (where, answer.status_code)
            else:
                assert answer.status_code == 403, where


async def test_the_next_page_keeps_the_filter(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "admin@example.com")
    first = await web.get("/admin/interactions?from=2025-01-01&segment=alumni")
    found = re.search(r'rel="next" href="\?([^"]+)"', first.text)
    assert found is not None  # the demo's year holds more than one page of contacts
    link = found.group(1).replace("&amp;", "&")
    assert "segment=alumni" in link and "from=2025-01-01" in link and link.endswith("page=2")
    second = await web.get(f"/admin/interactions?{link}")
    assert second.status_code == 200 and 'rel="prev"' in second.text
    rows = re.compile(r"<tr><td>(\d{4}-\d\d-\d\d)</td>")
    assert rows.findall(second.text) and rows.findall(second.text) != rows.findall(first.text)
