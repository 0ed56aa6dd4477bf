"""The console's Import page (a CSV upload, all or nothing, errors by line number), its
Invitations page (each campaign's funnel), sign-in by a link that a preview cannot spend, and
housekeeping of used links and ended sessions."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from bot.core.clock import FixedClock
from bot.runtime.admin import auth
from bot.runtime.app import App
from handlers.housekeeping import housekeeping
from storage import campaigns, console_web, importer, people
from storage.models import (
    AdminSession,
    AuditEntry,
    Campaign,
    LoginLink,
    Opening,
    OutboxMessage,
    Person,
)
from tests.test_console_web_pages import link, press_sign_in, sign_in, web

__all__ = ["web"]  # fixture

HEADER = (
    "email,name,name_kana,department,title,joined_on,left_on,join_route,leave_reason,skills,"
    "location,locale,timezone,slack_user_id,telegram_user_id"
)
GOOD = [
    "new1@example.com,新井 一郎,,営業,,2015-04-01,2023-03-31,new_grad,,,東京,ja,Asia/Tokyo,,",
    "new2@example.com,Nina Park,,Engineering,,2019-10-01,2024-06-30,mid_career,,,,en,,,",
]
BAD = [
    GOOD[0],
    "not-an-address,Bad Mail,,営業,,2015-04-01,2023-03-31,new_grad,,,,ja,,,",
    "new3@example.com,Bad Date,,営業,,2015-04-01,2023-13-31,new_grad,,,,ja,,,",
]


def csv_of(rows: list[str]) -> bytes:
    return "\n".join([HEADER, *rows]).encode()


def csrf_of(web: httpx.AsyncClient) -> str:
    token = web.cookies.get(auth.COOKIE)
    assert token
    return auth.csrf_token(token)


async def upload(
    web: httpx.AsyncClient, data: bytes, *, kind: str = "people", csrf: str | None = None
) -> httpx.Response:
    fields = {"kind": kind, "csrf": csrf_of(web) if csrf is None else csrf}
    files = {"file": ("people.csv", data, "text/csv")}
    return await web.post("/admin/import", data=fields, files=files)


async def people_count(app: App) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Person)) or 0)


async def imports_audited(app: App) -> list[tuple[bool, dict[str, object]]]:
    async with app.db.transaction() as session:
        found = await session.scalars(select(AuditEntry).where(AuditEntry.action == "import"))
        return [(e.allowed, dict(e.detail or {})) for e in found]


async def test_a_bad_people_file_shows_its_rows_by_number_and_imports_nobody(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "admin@example.com")
    form = await web.get("/admin/import")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    before = await people_count(app)
    answer = await upload(web, csv_of(BAD))
    assert answer.status_code == 400
    errors = re.findall(r"<li>(.*?)</li>", answer.text.split('id="errors"')[1])
    assert [e.split("：")[0] for e in errors] == ["3 行目", "4 行目"]  # the admin reads Japanese
    assert "not-an-address" in errors[0] and "2023-13-31" in errors[1]
    assert "何も取り込んでいません" in answer.text
    assert await people_count(app) == before  # not even the good first row
    assert await imports_audited(app) == [(False, {"via": "web", "file": "people.csv",
                                                   "errors": 2})]  # fmt: skip


async def settle(app: App, email: str, **values: str) -> None:
    """The viewer's own choices (language, time zone), as their profile would set them."""
    async with app.db.transaction() as session:
        person = await people.person_by_email(session, email)
        assert person is not None
        for name, value in values.items():
            setattr(person, name, value)


def shown_errors(answer: httpx.Response) -> list[str]:
    listed = answer.text.split('id="errors"')[1].split("</ul>")[0]
    return [html.unescape(e) for e in re.findall(r"<li>(.*?)</li>", listed)]


RELATIONS_BAD_HEADER = b"email,kind,nickname\nx@example.com,colleague,x\n"


async def test_a_japanese_admin_reads_each_rows_problem_in_japanese(
    app: App, web: httpx.AsyncClient
) -> None:
    await settle(app, "admin@example.com", locale="ja")
    await sign_in(app, web, "admin@example.com")
    answer = await upload(web, csv_of(BAD))
    assert answer.status_code == 400
    assert shown_errors(answer) == [
        "3 行目：email の「not-an-address」は正しいメールアドレスではありません",
        "4 行目：left_on の「2023-13-31」は 2024-03-31 のような日付ではありません",
    ]
    header = await upload(web, RELATIONS_BAD_HEADER, kind="relations")
    assert header.status_code == 400
    assert shown_errors(header) == [
        "1 行目：列「other_email」がありません；列「nickname」は使えない列名です"
    ]


async def test_an_english_admin_reads_the_same_problems_in_english(
    app: App, web: httpx.AsyncClient
) -> None:
    await settle(app, "admin@example.com", locale="en")
    await sign_in(app, web, "admin@example.com")
    answer = await upload(web, csv_of(BAD))
    assert answer.status_code == 400
    assert shown_errors(answer) == [
        "Line 3: email 'not-an-address' is not a valid address",
        "Line 4: left_on '2023-13-31' is not a date like 2024-03-31",
    ]
    header = await upload(web, RELATIONS_BAD_HEADER, kind="relations")
    assert shown_errors(header) == [
        "Line 1: missing column 'other_email'; unknown column 'nickname'"
    ]


async def test_a_good_file_shows_what_was_imported(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "admin@example.com")
    before = await people_count(app)
    answer = await upload(web, csv_of(GOOD))
    assert answer.status_code == 303
    shown = await web.get(answer.headers["location"])
    assert "新規 2 件、更新 0 件、変更なし 0 件" in shown.text
    again = await web.get((await upload(web, csv_of(GOOD[:1]))).headers["location"])
    assert "新規 0 件、更新 0 件、変更なし 1 件" in again.text  # re-importing updates by email
    assert await people_count(app) == before + 2
    assert [ok for ok, _ in await imports_audited(app)] == [True, True]


async def test_an_empty_upload_or_a_file_too_large_is_one_friendly_line(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "admin@example.com")
    before = await people_count(app)
    empty = await upload(web, b"")
    assert empty.status_code == 400 and "CSV ファイルを選んでください" in empty.text
    huge = csv_of(GOOD) + b"\n" + b"x" * (5 * 1024 * 1024)
    refused = await upload(web, huge)
    assert refused.status_code == 413 and "5 MB まで" in refused.text
    assert "Traceback" not in refused.text

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(6):
            yield b"y" * (1024 * 1024)

    streamed = await web.post(
        "/admin/import", content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=x"},
    )  # fmt: skip
    assert streamed.status_code == 413 and "5 MB まで" in streamed.text
    assert await people_count(app) == before


async def test_a_multipart_post_needs_the_sessions_csrf_token(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "admin@example.com")
    before = await people_count(app)
    assert (await upload(web, csv_of(GOOD), csrf="")).status_code == 403
    assert (await upload(web, csv_of(GOOD), csrf="forged")).status_code == 403
    assert await people_count(app) == before
    assert (await upload(web, csv_of(GOOD))).status_code == 303
    assert await people_count(app) == before + 2


async def test_hr_cannot_import(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "hr@example.com")
    assert (await web.get("/admin/import")).status_code == 403
    assert (await upload(web, csv_of(GOOD))).status_code == 403
    assert 'href="/admin/import"' not in (await web.get("/admin")).text


async def test_hr_sees_each_campaigns_funnel_a_page_at_a_time(
    app: App, web: httpx.AsyncClient
) -> None:
    now = app.clock.now()
    async with app.db.transaction() as session:
        await importer.import_people(session, csv_of(GOOD[:1]), now)  # not yet in
    async with app.db.transaction() as session:
        alumni = select(Person.id).where(Person.left_on.is_not(None)).order_by(Person.id)
        ids = list(await session.scalars(alumni.where(campaigns.joined()).limit(2)))
        ids += list(await session.scalars(alumni.where(~campaigns.joined()).limit(1)))
        for n in range(51):
            session.add(Campaign(segment=f"department:D{n}", status="queued", created_at=now))
        newest = Campaign(segment="alumni", status="queued", invited=3, created_at=now)
        session.add(newest)
        await session.flush()
        invitees = await campaigns.invitees(session, ids)
        await campaigns.add_invitations(
            session, newest, invitees, now=now, days=30, remind_after=timedelta(days=7)
        )
    await sign_in(app, web, "hr@example.com")
    page = await web.get("/admin/invitations")
    assert page.status_code == 200 and 'href="/admin/invitations"' in page.text
    rows = re.findall(r"<tr>(.*?)</tr>", page.text, re.S)[1:]
    assert len(rows) == 50
    cells = re.findall(r"<td>(.*?)</td>", rows[0])
    assert cells[0].startswith(f"#{newest.id} ") and "(alumni)" in cells[0]
    assert cells[1:] == ["3", "0", "0", "0", "2", "2"]  # invited, not delivered yet, joined
    older = await web.get("/admin/invitations", params={"before": re.findall(
        r'href="/admin/invitations\?before=(\d+)"', page.text)[0]})  # fmt: skip
    assert len(re.findall(r"<tr>", older.text)) == 1 + 2  # the header and the two oldest
    assert 'id="older"' not in older.text


async def test_a_campaign_is_dated_on_the_viewers_day(app: App, web: httpx.AsyncClient) -> None:
    late = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)  # already 1 April, 05:00, in Tokyo
    async with app.db.transaction() as session:
        campaign = Campaign(segment="alumni", status="queued", invited=1, created_at=late)
        session.add(campaign)
        await session.flush()
        newest = campaign.id
    await settle(app, "hr@example.com", timezone="Asia/Tokyo")
    await sign_in(app, web, "hr@example.com")

    async def first_campaign() -> str:
        page = await web.get("/admin/invitations")
        assert page.status_code == 200
        row = re.findall(r"<tr>(.*?)</tr>", page.text, re.S)[1]
        return str(re.findall(r"<td>(.*?)</td>", row)[0])

    assert await first_campaign() == f"#{newest} 2026-04-01 (alumni)"
    await settle(app, "hr@example.com", timezone="America/New_York")
    assert await first_campaign() == f"#{newest} 2026-03-31 (alumni)"  # 16:00 there


async def test_a_link_preview_spends_nothing_and_only_the_button_signs_in_once(
    app: App, web: httpx.AsyncClient
) -> None:
    token = await link(app, "admin@example.com")
    for _ in range(2):  # a chat app's unfurl, then the person
        preview = await web.get(f"/admin/login/{token}")
        assert preview.status_code == 200 and "サインイン" in preview.text
    signed = await press_sign_in(web, token)
    assert signed.status_code == 303 and "set-cookie" in signed.headers
    web.cookies.clear()
    again = await web.post("/admin/login", data={"token": token})
    assert again.status_code == 410 and "set-cookie" not in again.headers
    assert (await web.get(f"/admin/login/{token}")).status_code == 410
    assert (await web.post("/admin/login", data={"token": "nonsense"})).status_code == 404
    assert (await web.get("/admin")).status_code == 401


async def test_a_role_less_persons_link_is_refused_and_audited_when_opened(
    app: App, web: httpx.AsyncClient
) -> None:
    async with app.db.transaction() as session:
        hanako = await people.person_by_email(session, "hanako@example.com")
        assert hanako is not None
        token = await console_web.issue_link(session, hanako, app.clock.now())  # as if forged
    assert (await web.get(f"/admin/login/{token}")).status_code == 403
    assert (await web.post("/admin/login", data={"token": token})).status_code == 403
    async with app.db.transaction() as session:
        refused = list(await session.scalars(select(AuditEntry.allowed).where(
            AuditEntry.action == "admin_login", AuditEntry.actor_id == hanako.id)))  # fmt: skip
    assert refused == [False, False]


async def test_a_sign_in_from_another_site_is_refused_and_spends_nothing(
    app: App, web: httpx.AsyncClient
) -> None:
    token = await link(app, "hr@example.com")
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"},
                    {"origin": "null"}):  # fmt: skip
        forged = await web.post("/admin/login", data={"token": token}, headers=headers)
        assert forged.status_code == 403 and "set-cookie" not in forged.headers
    assert (await web.get("/admin")).status_code == 401
    ours = {"origin": "null", "sec-fetch-site": "same-origin"}  # Chromium under no-referrer
    signed = await web.post("/admin/login", data={"token": token}, headers=ours)
    assert signed.status_code == 303


async def test_housekeeping_deletes_old_links_and_ended_sessions(
    app: App, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    await sign_in(app, web, "admin@example.com")  # a used link and a session
    await link(app, "admin@example.com")  # a link never used

    async def stored() -> tuple[int, int]:
        async with app.db.transaction() as session:
            links = await session.scalar(select(func.count()).select_from(LoginLink))
            sessions = await session.scalar(select(func.count()).select_from(AdminSession))
        return int(links or 0), int(sessions or 0)

    clock.advance(hours=23)
    await housekeeping(app)
    assert await stored() == (2, 1)  # kept a day
    clock.advance(hours=2)
    await housekeeping(app)
    assert await stored() == (0, 1)  # the session ended 17 hours ago: kept 30 days
    clock.advance(days=30)
    await sign_in(app, web, "hr@example.com")  # a live session stays
    await housekeeping(app)
    assert await stored() == (1, 1)
    assert (await web.get("/admin")).status_code == 200


async def test_openings_from_the_page_are_matched_and_announced_as_from_the_command_line(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "admin@example.com")
    data = (
        "title,department,description,skills,nice_to_have,location,closes_on\n"
        "コンソール法人営業,営業,提案,セールス;営業;交渉,,東京,\n"
    ).encode()
    async with app.db.transaction() as session:
        queued = await session.scalar(select(func.count()).select_from(OutboxMessage))
    answer = await upload(web, data, kind="openings")
    assert answer.status_code == 303
    assert "新規 1 件" in (await web.get(answer.headers["location"])).text
    async with app.db.transaction() as session:
        found = await session.scalars(select(Opening).where(Opening.title == "コンソール法人営業"))
        assert len(found.all()) == 1
        told = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert (told or 0) > (queued or 0)  # the matches were told, as `import openings` does
