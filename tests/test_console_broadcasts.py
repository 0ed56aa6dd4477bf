"""The console's Broadcasts and Reach pages over HTTP: compose for a segment, the preview in
each language, Send (once, however often it is pressed), the delivery progress, Cancel, and
who can be reached nowhere."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from bot.core.clock import FixedClock
from bot.runtime import admin
from bot.runtime.app import App
from storage import mail, people
from storage.models import AuditEntry, Broadcast, MailContact, OutboxMessage, Person
from tests.conftest import make_settings
from tests.fakes.fake_channel import FakeChannel
from tests.support.crowd import add_people
from tests.support.people import load_company
from tests.test_broadcasts import deliver
from tests.test_console_web_pages import sign_in

CLUB = "Reunion Club"


async def company(app: App) -> None:
    """The test company, and in one department three reachable alumni (en, ja, en), one who
    opted out of broadcasts and one who never joined any chat."""
    await app.prepare()
    await load_company(app)
    now = app.clock.now()
    await add_people(app.db, 3, now, department=CLUB, left_on=now.date(),
                     locale=lambda n: "ja" if n == 1 else "en")  # fmt: skip
    await add_people(app.db, 1, now, prefix="optout", department=CLUB, opt_outs=["broadcasts"])
    async with app.db.transaction() as session:
        session.add(Person(email="nochat@example.com", name="Nobody Reaches", department=CLUB,
                           left_on=now.date(), consent_at=now, skills=[], desired_roles=[],
                           opt_outs=[]))  # fmt: skip


def client(app: App) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=Starlette(routes=admin.routes(app)))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def web(app: App) -> AsyncIterator[httpx.AsyncClient]:
    await company(app)
    async with client(app) as found:
        yield found


@pytest.fixture
async def mail_app(database_url: str, clock: FixedClock) -> AsyncIterator[App]:
    """Mail configured (nothing is sent here: the page only asks whom mail could reach)."""
    settings = make_settings(database_url, smtp_url="smtp://127.0.0.1:2525",
                             mail_from="Alumni <alumni@example.com>")  # fmt: skip
    app = App.build(settings, clock)
    yield app
    await app.close()


def csrf(web: httpx.AsyncClient) -> str:
    token = web.cookies.get(admin.auth.COOKIE)
    assert token
    return admin.auth.csrf_token(token)


async def compose(web: httpx.AsyncClient, **fields: str) -> httpx.Response:
    form = {"csrf": csrf(web), "text": "同窓会は金曜 19時 <b>です</b>", "segment": "department",
            "target": CLUB, **fields}  # fmt: skip
    return await web.post("/admin/broadcasts", data=form)


async def outbox_rows(app: App) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_hr_and_admins_open_broadcasts_and_reach(app: App, web: httpx.AsyncClient) -> None:
    assert (await web.get("/admin/broadcasts")).status_code == 401
    await sign_in(app, web, "hr@example.com")
    page = await web.get("/admin/broadcasts")
    assert page.status_code == 200 and "一斉送信" in page.text  # HR is Japanese
    assert 'href="/admin/reach"' in page.text  # in the header
    assert (await web.get("/admin/broadcasts/999")).status_code == 404
    forged = await web.post("/admin/broadcasts", data={"text": "x", "segment": "all"})
    assert forged.status_code == 403


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"text": "   "}, "入力が必要です。"),
        ({"segment": "planet"}, "一覧の送信先"),
        ({"target": ""}, "指定が必要"),
        ({"segment": "event", "target": "12345"}, "イベントはありません"),
        ({"target": "Nobody Works Here"}, "何も送信していません"),
    ],
)
async def test_bad_compositions_are_one_friendly_line_and_nothing_is_saved(
    app: App, web: httpx.AsyncClient, fields: dict[str, str], says: str
) -> None:
    await sign_in(app, web, "hr@example.com")
    answer = await compose(web, **fields)
    assert answer.status_code == 400
    problem = re.search(r'id="problem">([^<]*)<', answer.text)
    assert problem and says in problem.group(1), answer.text
    assert "Traceback" not in answer.text
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0
    assert await outbox_rows(app) == 0


async def test_compose_preview_confirm_once_and_watch_it_delivered(
    app: App, web: httpx.AsyncClient, clock: FixedClock
) -> None:
    await sign_in(app, web, "hr@example.com")
    made = await compose(web)
    assert made.status_code == 303
    where = made.headers["location"]
    assert re.fullmatch(r"/admin/broadcasts/\d+", where)
    preview = await web.get(where)
    assert preview.status_code == 200
    # The count, in each language: opted out and never joined are not counted.
    assert "3 人（日本語 1 人、英語 2 人）" in preview.text, preview.text
    # The message as each language gets it, what the outbox will carry (escaped).
    assert "📣 News from the alumni team" in preview.text and "[I&#39;m interested]" in preview.text
    assert "📣 アルムナイ事務局からのお知らせ" in preview.text and "[興味あり]" in preview.text
    assert "&lt;b&gt;です&lt;/b&gt;" in preview.text and "<b>です" not in preview.text
    assert 'http-equiv="refresh"' not in preview.text
    assert await outbox_rows(app) == 0  # nothing before Send
    number = where.rsplit("/", 1)[1]

    sent = await web.post(f"{where}/confirm", data={"csrf": csrf(web)})
    assert sent.status_code == 303 and sent.headers["location"].endswith("note=queued")
    again = await web.post(f"{where}/confirm", data={"csrf": csrf(web)})  # a double submit
    assert again.headers["location"].endswith("note=not_draft")
    async with app.db.transaction() as session:
        rows = list(await session.scalars(select(OutboxMessage)))
        club = {p.id: p.locale for p in await session.scalars(
            select(Person).where(Person.department == CLUB, Person.email.like("u%")))}  # fmt: skip
        actions = [a.action for a in await session.scalars(
            select(AuditEntry).where(AuditEntry.target == f"broadcast:{number}"))]  # fmt: skip
    to = [r.person_id or 0 for r in rows]
    assert sorted(to) == sorted(club)  # one row each, nobody else
    by_locale = {club[pid]: r.payload["text"] for pid, r in zip(to, rows, strict=True)}
    assert by_locale["ja"].startswith("📣 アルムナイ事務局") and "同窓会は金曜" in by_locale["ja"]
    assert actions.count("broadcast") == 1 and "broadcast_draft" in actions
    told = await web.get(sent.headers["location"])
    assert "3 人分" in told.text and 'http-equiv="refresh" content="3"' in told.text  # live
    assert re.search(r'id="queued">3<', told.text) and re.search(r'id="sent">0<', told.text)
    refused = await web.get(again.headers["location"])
    assert "すでに送信済み" in refused.text

    fake = FakeChannel(clock, blocked={"u2"})  # one of them blocked the bot
    await deliver(app, fake)
    done = await web.get(where)
    assert re.search(r'id="sent">2<', done.text) and re.search(r'id="unreachable">1<', done.text)
    assert re.search(r'id="waiting">0<', done.text) and "完了" in done.text
    assert 'http-equiv="refresh"' not in done.text  # finished: no more refreshing
    listed = await web.get("/admin/broadcasts")
    assert f'href="/admin/broadcasts/{number}"' in listed.text and "完了" in listed.text


async def test_cancel_before_confirm_sends_nothing(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "admin@example.com")  # in English
    where = (await compose(web, urgent="yes")).headers["location"]
    assert "urgent" in (await web.get(where)).text.lower()
    out = await web.post(f"{where}/cancel", data={"csrf": csrf(web)})
    assert out.status_code == 303
    page = await web.get(out.headers["location"])
    assert "cancelled; nothing was sent" in page.text
    late = await web.post(f"{where}/confirm", data={"csrf": csrf(web)})
    assert late.headers["location"].endswith("note=not_draft")
    assert await outbox_rows(app) == 0
    async with app.db.transaction() as session:
        item = await session.scalar(select(Broadcast))
        assert item is not None and item.status == "cancelled"


async def test_reach_counts_for_hr_and_names_for_admins(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "hr@example.com")
    counts = await web.get("/admin/reach")
    assert counts.status_code == 200
    # Nobody Reaches, and the company's two leavers who never joined a chat.
    assert "どのチャットにも届かない卒業生：3人" in counts.text
    assert "チャットにもメールにも届かない人：<strong>3人</strong>" in counts.text  # mail is off
    assert "Nobody Reaches" not in counts.text and "管理者だけ" in counts.text
    await web.post("/admin/logout", data={"csrf": csrf(web)})
    await sign_in(app, web, "admin@example.com")
    names = await web.get("/admin/reach")
    assert "Alumni no chat reaches: 3" in names.text
    assert "Nobody Reaches" in names.text and "nochat@example.com" in names.text
    assert "never" in names.text.lower()  # the chat's reason: never joined
    assert "Person u0" not in names.text  # reachable people are not listed
    assert (await web.get("/admin/reach", params={"page": "2"})).status_code == 200


async def test_reach_tells_who_mail_still_reaches(mail_app: App) -> None:
    app = mail_app
    await company(app)
    now = app.clock.now()
    async with app.db.transaction() as session:
        for email, private in (("emma@example.com", "emma@home.example"),
                               ("nochat@example.com", "nobody@home.example")):  # fmt: skip
            found = await people.person_by_email(session, email)
            assert found is not None
            found.private_email = private
        emma = await people.person_by_email(session, "emma@example.com")
        assert emma is not None
        await mail.ensure_tokens(session, [emma.id], now)
        await session.flush()
        contact = await session.get(MailContact, emma.id)
        assert contact is not None
        contact.unsubscribed_at = now
    async with client(app) as web:
        await sign_in(app, web, "admin@example.com")
        page = await web.get("/admin/reach")
    assert "Alumni no chat reaches: 3" in page.text
    assert "without a private mail address: 1" in page.text  # Hanako
    assert "unsubscribed from mail or their mail bounced: 1" in page.text  # Emma
    assert "neither by chat nor by mail: <strong>2</strong>" in page.text
    standing = dict(re.findall(r"<td>([^<]+)</td><td>[^<]*</td><td>[^<]*</td>\s*<td>([^<]+)</td>",
                               page.text))  # fmt: skip
    assert standing == {"山田 花子": "no private address", "Emma Brown": "unsubscribed",
                        "Nobody Reaches": "reaches them"}  # fmt: skip


async def test_an_impossible_number_is_unknown(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "hr@example.com")
    huge = "9" * 30
    assert (await web.get(f"/admin/broadcasts/{huge}")).status_code == 404
    answer = await web.post(f"/admin/broadcasts/{huge}/confirm", data={"csrf": csrf(web)})
    assert answer.status_code == 404 and "その番号の一斉送信はありません" in answer.text
