"""Mail through a real SMTP conversation: the worker sends the outbox's mails to a local aiosmtpd
server, with RFC 8058 unsubscribe headers; the server down, 4xx and 5xx replies; unsubscribing.
Time is a FixedClock moved by VirtualSleep; nothing here sleeps."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.channels.smtp.channel import MailChannel
from bot.cli import main
from bot.core.channel import RateLimited, Recipient
from bot.core.clock import FixedClock
from bot.core.markup import bold
from bot.core.settings import (
    DeliverySettings,
    MailSettings,
    Settings,
    SettingsError,
    load_settings,
)
from bot.core.types import Reply
from bot.runtime.app import App
from bot.runtime.web import build_web_app
from storage import mail, people
from storage.models import AuditEntry, MailContact, OutboxKind, OutboxMessage, Person, Role
from tests.conftest import chat, make_settings
from tests.fakes.smtp_server import SmtpServer
from tests.support.mail import MAIL_SETTINGS, drain, mail_app, part, smtp
from tests.test_onboarding import join_directly

__all__ = ["mail_app", "smtp"]  # fixtures


async def add_person(app: App, email: str, **fields: object) -> int:
    async with app.db.transaction() as session:
        values: dict[str, object] = {"locale": "en", **fields}
        person = Person(
            email=email, name=email.split("@")[0], skills=[], desired_roles=[], opt_outs=[],
            **values,
        )  # fmt: skip
        session.add(person)
        await session.flush()
        return person.id


async def queue_mail(app: App, person_id: int, text: str = "Hello there") -> None:
    now = app.clock.now()
    async with app.db.transaction() as session:
        await mail.ensure_tokens(session, [person_id], now)
        await mail.enqueue(
            session,
            person_id=person_id,
            reply=Reply(text, subject="A subject"),
            key=f"test:{person_id}:{text}",
            kind=OutboxKind.INVITATION,
            now=now,
        )


async def states(app: App) -> list[tuple[str, str | None]]:
    async with app.db.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.state, OutboxMessage.last_error).order_by(OutboxMessage.id)
        )
        return [(s, e) for s, e in rows.all()]


async def token_of(app: App, person_id: int) -> str:
    async with app.db.sessions() as session:
        contact = await session.get(MailContact, person_id)
        assert contact is not None
        return contact.token


async def test_a_queued_mail_arrives_as_text_and_html_with_one_click_unsubscribe(
    mail_app: App, smtp: SmtpServer
) -> None:
    pid = await add_person(mail_app, "aiko@example.com")
    text = bold("Welcome") + "\n\nJoin here: https://t.me/bot?start=ABC <b>"
    await queue_mail(mail_app, pid, text)
    await drain(mail_app)
    [got] = smtp.mailbox.received
    token = await token_of(mail_app, pid)
    assert got["To"] == "aiko@example.com"
    assert got["From"] == "Alumni <alumni@example.com>"
    assert got["Subject"] == "A subject"
    assert got["List-Unsubscribe"] == f"<https://alumni.example.com/unsubscribe/{token}>"
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Join here: https://t.me/bot?start=ABC <b>" in part(got, "plain")
    body = part(got, "html")
    assert '<a href="https://t.me/bot?start=ABC">' in body
    assert "<strong>Welcome</strong>" in body and "&lt;b&gt;" in body
    assert await states(mail_app) == [("sent", None)]


async def test_a_bad_smtp_url_stops_the_program_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for url in ("http://mail.example.com", "smtp://:25", "smtp://host:notaport"):
        monkeypatch.setenv("SMTP_URL", url)
        monkeypatch.setenv("MAIL_FROM", "alumni@example.com")
        with pytest.raises(SettingsError) as caught:
            load_settings()
        assert "SMTP_URL" in str(caught.value) and "\n" not in str(caught.value)
    monkeypatch.setenv("SMTP_URL", "smtp://user:secret@mail.example.com:587")
    monkeypatch.delenv("MAIL_FROM")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "MAIL_FROM" in str(caught.value) and "secret" not in str(caught.value)


async def web(app: App) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_web_app(app, [MailChannel(app)]))
    return httpx.AsyncClient(transport=transport, base_url="https://alumni.example.com")


async def test_the_one_click_post_unsubscribes_and_no_mail_goes_after_it(
    mail_app: App, smtp: SmtpServer
) -> None:
    pid = await add_person(mail_app, "ken@example.com", locale="ja")
    await queue_mail(mail_app, pid, "first")
    token = await token_of(mail_app, pid)
    async with await web(mail_app) as client:
        page = await client.get(f"/unsubscribe/{token}")  # a link checker: nothing changes
        assert page.status_code == 200 and "配信を停止する" in page.text
        assert 'lang="ja"' in page.text
        async with mail_app.db.sessions() as session:
            contact = await session.get(MailContact, pid)
            assert contact is not None and contact.unsubscribed_at is None
        done = await client.post(
            f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert done.status_code == 200 and "配信を停止しました" in done.text
        again = await client.post(f"/unsubscribe/{token}")
        assert again.status_code == 200
        unknown = await client.post("/unsubscribe/not-a-token")
        assert unknown.status_code == 404
    await queue_mail(mail_app, pid, "second")  # a later mail: never sent
    await drain(mail_app)
    assert smtp.mailbox.received == []
    assert await states(mail_app) == [("dead", "unsubscribed"), ("dead", "unsubscribed")]
    async with mail_app.db.sessions() as session:
        audits = list(await session.scalars(select(AuditEntry.action)))
    assert audits == ["mail_unsubscribe"]  # once, though the link was posted twice


def settings_for(sqlite_url: str, smtp: SmtpServer, **overrides: Any) -> Settings:
    return make_settings(
        sqlite_url,
        smtp_url=smtp.url,
        delivery=DeliverySettings(drain_wait_seconds=10),
        mail=MailSettings(down_retry_seconds=30),
        **MAIL_SETTINGS,
        **overrides,
    )


async def test_while_the_server_is_down_mails_wait_and_none_is_lost_or_doubled(
    sqlite_url: str, clock: FixedClock, smtp: SmtpServer
) -> None:
    app = App.build(settings_for(sqlite_url, smtp), clock)
    try:
        ids = [await add_person(app, f"p{n}@example.com") for n in range(4)]
        await queue_mail(app, ids[0], "before")
        await drain(app)  # one goes while the server is up
        smtp.stop()
        for pid in ids:
            await queue_mail(app, pid, "during")
        worker = await drain(app)  # gives up for now: the retry is further than drain_wait
        assert worker.stats.rate_limited >= 1 and worker.stats.dead == 0
        assert [s for s, _ in await states(app)].count("queued") == 4
        clock.advance(seconds=5)
        smtp.start()  # back on the same port
        clock.advance(seconds=30)
        await drain(app)
        got = sorted((m["To"], part(m, "plain").strip()) for m in smtp.mailbox.received)
        assert got == sorted(
            [("p0@example.com", "before")] + [(f"p{n}@example.com", "during") for n in range(4)]
        )
        assert [s for s, _ in await states(app)] == ["sent"] * 5
    finally:
        await app.close()


async def test_a_5xx_bounce_marks_the_person_unreachable_and_a_4xx_is_retried(
    sqlite_url: str, clock: FixedClock, smtp: SmtpServer
) -> None:
    app = App.build(settings_for(sqlite_url, smtp), clock)
    try:
        gone = await add_person(app, "gone@example.com")
        busy = await add_person(app, "busy@example.com")
        smtp.mailbox.refuse["gone@example.com"] = "550 5.1.1 no such user"
        smtp.mailbox.refuse["busy@example.com"] = "451 4.7.1 greylisted, try again later"
        await queue_mail(app, gone, "first")
        await queue_mail(app, busy, "first")
        worker = await drain(app)
        assert worker.stats.unreachable == 1 and worker.stats.retried >= 1
        async with app.db.sessions() as session:
            contact = await session.get(MailContact, gone)
            assert contact is not None and contact.bounced_at is not None
            assert "550" in (contact.bounce_reason or "")
        del smtp.mailbox.refuse["busy@example.com"]
        clock.advance(hours=2)
        await drain(app)
        assert [m["To"] for m in smtp.mailbox.received] == ["busy@example.com"]
        await queue_mail(app, gone, "second")  # after a bounce: never tried again
        await drain(app)
        assert smtp.mailbox.refused.count("gone@example.com") == 1
        found = await states(app)
        assert found[0][0] == "dead" and "550" in (found[0][1] or "")
        assert found[1][0] == "sent"
        assert found[2][0] == "dead" and "bounced" in (found[2][1] or "")
    finally:
        await app.close()


def test_the_worker_refuses_to_start_on_a_bad_smtp_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("SMTP_URL", "smtp//mail.example.com")
    monkeypatch.setenv("MAIL_FROM", "alumni@example.com")
    assert main(["worker", "--drain"]) == 2
    said = capsys.readouterr().err.strip()
    assert "SMTP_URL" in said and len(said.splitlines()) == 1


async def test_hr_sees_the_preview_in_japanese(mail_app: App) -> None:
    pid = await add_person(mail_app, "hr@example.com", locale="ja", left_on=None)
    await add_person(mail_app, "alum@example.com", left_on=date(2024, 3, 31))
    async with mail_app.db.transaction() as session:
        hr = await session.get(Person, pid)
        assert hr is not None
        await people.grant(session, hr, Role.HR, None, mail_app.clock.now())
    await join_directly(mail_app, "hr@example.com", locale="ja")
    preview = await chat(mail_app, "hr@example.com").say("invite all")
    assert "1 人を招待します" in preview and "アルムナイネットワークへのご招待" in preview


async def test_a_connection_the_server_dropped_while_idle_is_opened_again_at_once(
    mail_app: App, smtp: SmtpServer
) -> None:
    channel = MailChannel(mail_app)
    to = Recipient("smtp", "", "aiko@example.com")
    try:
        await channel.send(to, Reply("one", subject="1"))
        smtp.stop()  # the server restarts (or closes an idle connection) between two mails
        smtp.start()
        await channel.send(to, Reply("two", subject="2"))  # no wait: not "the server is down"
        smtp.stop()
        with pytest.raises(RateLimited):  # really down: every mail waits
            await channel.send(to, Reply("three", subject="3"))
    finally:
        await channel.stop()
    assert [m["Subject"] for m in smtp.mailbox.received] == ["1", "2"]
