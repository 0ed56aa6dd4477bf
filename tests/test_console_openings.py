"""The console's Openings and Referrals pages over HTTP: posting, editing and closing an opening
do what the chat's form does (checks, matching, notices, audit), and moving a referral tells the
referrer through the outbox as the chat's button does."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from bot.runtime import admin
from bot.runtime.app import App
from storage import people
from storage import referrals as pipeline
from storage.models import AuditEntry, Match, Opening, OutboxMessage, Outcome, Referral
from tests import test_console_web_pages as console_pages
from tests.test_console_web_pages import sign_in

web = console_pages.web  # the fixture: a demo company and an HTTP client on the console

GOOD = {
    "title": "データエンジニア",
    "department": "エンジニアリング",
    "description": "データ基盤を一緒に作りませんか。",
    "skills": "Python; SQL",
    "nice_to_have": "",
    "location": "リモート",
    "remote": "yes",
    "employment_type": "full_time",
    "welcome_note": "",
    "closes_on": "",
}
# Every path of these pages, with a stand-in opening and referral number.
PATHS = [
    ("GET", "/admin/openings"), ("GET", "/admin/openings/new"), ("POST", "/admin/openings/new"),
    ("GET", "/admin/openings/1"), ("GET", "/admin/openings/1/edit"),
    ("POST", "/admin/openings/1/edit"), ("POST", "/admin/openings/1/close"),
    ("GET", "/admin/referrals"), ("POST", "/admin/referrals/1/move"),
]  # fmt: skip


def csrf(client: httpx.AsyncClient) -> str:
    token = client.cookies.get(admin.auth.COOKIE)
    assert token
    return admin.auth.csrf_token(token)


async def count(app: App, model: type[object], *where: object) -> int:
    async with app.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))  # type: ignore[arg-type]


async def test_no_session_no_page_and_no_post_without_the_token(
    app: App, web: httpx.AsyncClient
) -> None:
    for method, path in PATHS:
        assert (await web.request(method, path)).status_code == 401, path
    await sign_in(app, web, "hr@example.com")
    for method, path in PATHS:
        if method == "POST":
            refused = await web.post(path, data={**GOOD, "to": "screening"})
            assert refused.status_code == 403, path
    assert await count(app, Opening, Opening.title == GOOD["title"]) == 0


@pytest.mark.parametrize("role", ["hr", "admin"])
async def test_hr_and_admins_post_an_opening_matched_and_announced_as_in_chat(
    app: App, web: httpx.AsyncClient, role: str
) -> None:
    await sign_in(app, web, f"{role}@example.com")
    form = await web.get("/admin/openings/new")
    assert form.status_code == 200 and 'name="skills"' in form.text and "募集" in form.text
    notices_before = await count(app, OutboxMessage, OutboxMessage.kind == "job")
    posted = await web.post("/admin/openings/new", data={**GOOD, "csrf": csrf(web)})
    assert posted.status_code == 303
    page = await web.get(posted.headers["location"])
    assert page.status_code == 200 and "データエンジニア" in page.text
    assert "投稿しました" in page.text and "マッチしました" in page.text  # the chat's answer
    async with app.db.transaction() as session:
        opening = await session.scalar(select(Opening).where(Opening.title == GOOD["title"]))
        assert opening is not None and opening.skills == ["Python", "SQL"] and opening.remote
        matches = int(await session.scalar(
            select(func.count()).where(Match.opening_id == opening.id)) or 0)  # fmt: skip
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "postjob"))
    notices = await count(app, OutboxMessage, OutboxMessage.kind == "job") - notices_before
    assert matches > 0 and notices > 0  # the demo's Python alumni were matched and told
    assert entry is not None and entry.target == f"opening:{opening.id}"
    assert entry.detail == {"matches": matches, "via": "web"}
    assert f"マッチ{matches}人" in page.text
    listed = await web.get("/admin/openings")
    assert listed.status_code == 200 and f'href="/admin/openings/{opening.id}"' in listed.text


async def test_bad_answers_give_the_friendly_message_and_post_nothing(
    app: App, web: httpx.AsyncClient
) -> None:
    await sign_in(app, web, "hr@example.com")
    before = await count(app, Opening)
    for bad, field, says in (
        ({"skills": ""}, "skills", "入力が必要です"),  # the chat's own messages
        ({"skills": "; ".join(f"s{n}" for n in range(40))}, "skills", "スキルが多すぎます"),
        ({"closes_on": "2020-01-01"}, "closes_on", "締切日が過去の日付です"),
        ({"closes_on": "いつか"}, "closes_on", "日付を入力してください"),
        ({"employment_type": "gig"}, "employment_type", "選択肢から選んでください"),
    ):
        answer = await web.post("/admin/openings/new", data={**GOOD, **bad, "csrf": csrf(web)})
        assert answer.status_code == 400, bad
        assert f'id="error-{field}"' in answer.text and says in answer.text, bad
        assert 'value="データエンジニア"' in answer.text  # what was typed stays
        assert "Traceback" not in answer.text
    assert await count(app, Opening) == before
    assert await count(app, AuditEntry, AuditEntry.action == "postjob") == 0


async def test_edit_then_close_an_opening(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "hr@example.com")
    async with app.db.transaction() as session:
        opening = await session.scalar(select(Opening).order_by(Opening.id).limit(1))
        assert opening is not None
    edit = await web.get(f"/admin/openings/{opening.id}/edit")
    assert edit.status_code == 200 and f'value="{opening.title}"' in edit.text
    changed = {**GOOD, "title": "法人営業リーダー", "skills": "営業; 法人営業", "csrf": csrf(web)}
    saved = await web.post(f"/admin/openings/{opening.id}/edit", data=changed)
    assert saved.status_code == 303
    assert "更新しました" in (await web.get(saved.headers["location"])).text
    closed = await web.post(f"/admin/openings/{opening.id}/close", data={"csrf": csrf(web)})
    assert closed.status_code == 303
    shown = await web.get(closed.headers["location"])
    assert "募集を終了しました" in shown.text and 'id="close"' not in shown.text
    again = await web.post(f"/admin/openings/{opening.id}/close", data={"csrf": csrf(web)})
    assert again.status_code == 400 and 'id="problem"' in again.text
    async with app.db.transaction() as session:
        row = await session.get(Opening, opening.id)
        assert row is not None and row.title == "法人営業リーダー" and row.status == "closed"
        actions = list(await session.scalars(select(AuditEntry.action).where(
            AuditEntry.target == f"opening:{opening.id}")))  # fmt: skip
    assert actions.count("editjob") == 1 and actions.count("closejob") == 1
    assert (await web.get("/admin/openings/999999")).status_code == 404


async def test_matches_count_for_hr_and_who_for_admins(app: App, web: httpx.AsyncClient) -> None:
    async with app.db.transaction() as session:
        match = await session.scalar(select(Match).order_by(Match.id).limit(1))  # the demo's
        assert match is not None
        hanako = await people.person_by_email(session, "hanako@example.com")
        assert hanako is not None and match.person_id == hanako.id
        await pipeline.add(session, opening_id=match.opening_id, kind="interest",
                           referrer_id=hanako.id, candidate_person_id=hanako.id,
                           candidate_name=hanako.name, contact=hanako.email, key="h",
                           relationship=None, why=None, now=app.clock.now())  # fmt: skip
    path = f"/admin/openings/{match.opening_id}"
    await sign_in(app, web, "hr@example.com")
    hr = await web.get(path)
    assert hr.status_code == 200 and "マッチ1人" in hr.text
    assert 'id="matches"' not in hr.text  # HR sees how many, not who
    assert 'id="interest-count"' in hr.text and "1人" in hr.text
    web.cookies.clear()
    await sign_in(app, web, "admin@example.com")
    admins = await web.get(path)
    assert 'id="matches"' in admins.text and hanako.name in admins.text
    assert hanako.department and hanako.department in admins.text  # why she matched


async def test_moving_a_referral_tells_the_referrer_in_the_outbox(
    app: App, web: httpx.AsyncClient
) -> None:
    async with app.db.transaction() as session:
        opening = await session.scalar(select(Opening).order_by(Opening.id).limit(1))
        hanako = await people.person_by_email(session, "hanako@example.com")
        assert opening is not None and hanako is not None
        referral = await pipeline.add(session, opening_id=opening.id, kind="referral",
                                      referrer_id=hanako.id, candidate_person_id=None,
                                      candidate_name="山田 一郎", contact="ichiro@example.org",
                                      key="ichiro@example.org", relationship="元同僚", why=None,
                                      now=app.clock.now())  # fmt: skip
        assert referral is not None
    await sign_in(app, web, "hr@example.com")
    listed = await web.get("/admin/referrals")
    assert listed.status_code == 200 and "山田 一郎" in listed.text and 'id="stages"' in listed.text
    moved = await web.post(f"/admin/referrals/{referral.id}/move",
                           data={"to": "screening", "csrf": csrf(web)})  # fmt: skip
    assert moved.status_code == 303
    after = await web.get(moved.headers["location"])
    assert f"R{referral.id}" in after.text and 'id="result"' in after.text
    backwards = await web.post(f"/admin/referrals/{referral.id}/move",
                               data={"to": "submitted", "csrf": csrf(web)})  # fmt: skip
    assert backwards.status_code == 400 and 'id="problem"' in backwards.text
    async with app.db.transaction() as session:
        row = await session.get(Referral, referral.id)
        told = list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.person_id == hanako.id, OutboxMessage.kind == "referral")))  # fmt: skip
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "referral_move"))
    assert row is not None and row.status == "screening"
    assert [m.idempotency_key for m in told] == [f"referral:{referral.id}:screening"]
    assert "山田 一郎" in told[0].payload["text"] and "書類選考" in told[0].payload["text"]
    assert entry is not None and entry.detail["via"] == "web"


async def test_a_hire_from_the_console_records_its_outcome(
    app: App, web: httpx.AsyncClient
) -> None:
    async with app.db.transaction() as session:
        opening = await session.scalar(select(Opening).order_by(Opening.id).limit(1))
        hanako = await people.person_by_email(session, "hanako@example.com")
        assert opening is not None and hanako is not None
        referral = await pipeline.add(session, opening_id=opening.id, kind="interest",
                                      referrer_id=hanako.id, candidate_person_id=hanako.id,
                                      candidate_name=hanako.name, contact=hanako.email, key="h",
                                      relationship=None, why=None, now=app.clock.now())  # fmt: skip
        assert referral is not None
    await sign_in(app, web, "hr@example.com")
    for to in ("screening", "interview", "offer", "hired"):
        moved = await web.post(f"/admin/referrals/{referral.id}/move",
                               data={"to": to, "csrf": csrf(web)})  # fmt: skip
        assert moved.status_code == 303, to
    page = await web.get(moved.headers["location"])
    assert "成果 #" in page.text
    async with app.db.transaction() as session:
        hires = list(await session.scalars(select(Outcome).where(Outcome.person_id == hanako.id)))
        told = list(await session.scalars(select(OutboxMessage.idempotency_key).where(
            OutboxMessage.person_id == hanako.id, OutboxMessage.kind == "referral")))  # fmt: skip
    assert len(hires) == 1 and len(told) == 4  # each step told, as the chat does


async def test_what_hr_typed_is_shown_escaped(app: App, web: httpx.AsyncClient) -> None:
    await sign_in(app, web, "hr@example.com")
    title = "<script>alert(1)</script> & co"
    posted = await web.post("/admin/openings/new", data={**GOOD, "title": title, "csrf": csrf(web)})
    assert posted.status_code == 303
    for page in (await web.get(posted.headers["location"]), await web.get("/admin/openings")):
        assert (
            "<script>" not in page.text
            and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page.text
        )
