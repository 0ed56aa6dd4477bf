"""Invitation campaigns by mail: HR's `invite all` (preview, Send) and `alumni-bot invite --all`
over imported people, in both languages; who is skipped and why; running it again; the code in
a mail joining from Telegram and the console; the one reminder. Mail goes to a local aiosmtpd
server through the real worker and mail channel."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.cli import main
from bot.core.clock import FixedClock
from bot.runtime.app import App
from handlers import invitations
from storage import campaigns, importer, invites, mail, people
from storage.models import AuditEntry, Campaign, Invite, MailContact, Person, Role
from tests.conftest import chat, make_settings
from tests.fakes.smtp_server import SmtpServer
from tests.support.dialog import Chat
from tests.support.mail import drain, mail_app, part, smtp
from tests.test_onboarding import join_directly

__all__ = ["mail_app", "smtp"]  # fixtures

HEADER = (
    "email,name,name_kana,department,title,joined_on,left_on,join_route,leave_reason,skills,"
    "location,locale,timezone,slack_user_id,telegram_user_id,private_email"
)
ROWS = [
    "aiko@example.com,山田 愛子,,営業,,2015-04-01,2023-03-31,new_grad,,,東京,ja,Asia/Tokyo,,,",
    "emma@corp.example.com,Emma Brown,,Engineering,,2019-10-01,2024-06-30,mid_career,,,London,en,"
    "Europe/London,,,emma@home.example.org",
    "joined@example.com,Joined Alum,,Sales,,2015-04-01,2022-03-31,new_grad,,,,en,,,,",
    "unsub@example.com,Unsub Alum,,Sales,,2015-04-01,2022-03-31,new_grad,,,,en,,,,",
    "coded@example.com,Coded Alum,,Sales,,2015-04-01,2022-03-31,new_grad,,,,en,,,,",
    "staff@example.com,Still Here,,Sales,,2015-04-01,,new_grad,,,,en,,,,",
    "hr@example.com,鈴木 人事,,人事,,2010-04-01,,new_grad,,,,en,,,,",
]


async def company(app: App) -> None:
    """Five alumni, of whom two are to be invited: one joined, one unsubscribed, one holds a
    live code; a current employee (not alumni) and HR."""
    now = app.clock.now()
    async with app.db.transaction() as session:
        await importer.import_people(session, "\n".join([HEADER, *ROWS]).encode(), now)
        hr = await people.person_by_email(session, "hr@example.com")
        coded = await people.person_by_email(session, "coded@example.com")
        unsub = await people.person_by_email(session, "unsub@example.com")
        assert hr and coded and unsub
        await people.grant(session, hr, Role.HR, None, now)
        await invites.create(session, person=coded, created_by=None, now=now, days=30)
        await mail.ensure_tokens(session, [unsub.id], now)
        await session.execute(
            update(MailContact).where(MailContact.person_id == unsub.id).values(unsubscribed_at=now)
        )
    await join_directly(app, "hr@example.com")
    await join_directly(app, "joined@example.com")


async def hr(app: App) -> Chat:
    return chat(app, "hr@example.com")


def code_in(text: str) -> str:
    found = re.search(r"code:? ([A-Z0-9]{8})|コード：([A-Z0-9]{8})", text)
    assert found, text
    return found.group(1) or found.group(2)


async def test_hr_invites_every_alumnus_not_yet_in_by_mail_in_their_language(
    mail_app: App, smtp: SmtpServer
) -> None:
    await company(mail_app)
    me = await hr(mail_app)
    preview = await me.say("invite all")
    assert "2 people will be invited" in preview
    assert "1 skipped: already joined" in preview
    assert "1 skipped: unsubscribed" in preview
    assert "1 skipped: already invited" in preview
    assert smtp.mailbox.received == []  # nothing before Send
    [send] = [b for b in me.buttons if b.action == "invitations.confirm"]
    assert "2 invitation mails queued" in await me.press_button(send)
    assert "already sent" in await me.press_button(send)  # pressed twice: queued once
    await drain(mail_app)
    assert sorted(m["To"] for m in smtp.mailbox.received) == [
        "aiko@example.com",
        "emma@home.example.org",  # the private address, not the closed company one
    ]
    [ja] = smtp.mailbox.to("aiko@example.com")
    assert ja["Subject"] == "アルムナイネットワークへのご招待"
    text = part(ja, "plain")
    code = code_in(text)
    assert "山田 愛子 さん" in text
    assert f"https://t.me/alumni_bot?start={code}" in text
    assert "https://join.slack.com/t/alumni/shared_invite/abc" in text
    assert "求人" in text and "データの利用" in text
    assert "https://alumni.example.com/unsubscribe/" in text
    assert f'href="https://t.me/alumni_bot?start={code}"' in part(ja, "html")
    [en] = smtp.mailbox.to("emma@home.example.org")
    assert en["Subject"] == "Your invitation to the alumni network"
    assert "job and contract openings" in part(en, "plain")
    assert code_in(part(en, "plain")) != code

    # Running it again invites nobody: everyone is in, skipped or already invited.
    again = await me.say("invite all")
    assert "0 people will be invited" in again and "3 skipped: already invited" in again
    assert "Nobody to invite" in again
    await drain(mail_app)
    assert len(smtp.mailbox.received) == 2


async def test_the_code_in_a_mail_joins_from_telegram_and_from_the_console(
    mail_app: App, smtp: SmtpServer
) -> None:
    await company(mail_app)
    me = await hr(mail_app)
    await me.say("invite all")
    await me.press_action("invitations.confirm")
    await drain(mail_app)
    aiko = code_in(part(smtp.mailbox.to("aiko@example.com")[0], "plain"))
    emma = code_in(part(smtp.mailbox.to("emma@home.example.org")[0], "plain"))
    telegram = chat(mail_app, "555", channel="telegram", locale_hint="ja")
    assert "山田 愛子" in await telegram.say(f"/start {aiko}")  # the deep link
    await telegram.press_action("onboarding.consent", "yes")
    console = chat(mail_app, "emma-console")
    assert "Emma Brown" in await console.say(f"join {emma}")
    await console.press_action("onboarding.consent", "yes")
    async with mail_app.db.sessions() as session:
        joined = await session.scalars(
            select(Person.email).where(Person.consent_at.is_not(None)).order_by(Person.email)
        )
        assert "aiko@example.com" in list(joined)


async def test_one_reminder_after_the_set_days_to_whoever_has_not_joined(
    mail_app: App, smtp: SmtpServer, clock: FixedClock
) -> None:
    await company(mail_app)
    me = await hr(mail_app)
    await me.say("invite all")
    await me.press_action("invitations.confirm")
    await drain(mail_app)
    emma = code_in(part(smtp.mailbox.to("emma@home.example.org")[0], "plain"))
    await chat(mail_app, "emma-console").say(f"join {emma}")  # Emma joins; Aiko does not
    clock.advance(days=13)
    assert await invitations.tick_reminders(mail_app) == 0
    clock.advance(days=1, minutes=1)
    assert await invitations.tick_reminders(mail_app) == 2  # both looked at, one reminded
    await drain(mail_app)
    [first, reminder] = smtp.mailbox.to("aiko@example.com")
    assert reminder["Subject"] == "【再送】アルムナイネットワークへのご招待"
    assert code_in(part(reminder, "plain")) == code_in(part(first, "plain"))
    assert len(smtp.mailbox.to("emma@home.example.org")) == 1
    clock.advance(days=30)
    assert await invitations.tick_reminders(mail_app) == 0  # then nothing more
    await drain(mail_app)
    assert len(smtp.mailbox.received) == 3


async def test_invite_all_says_when_mail_is_off(app: App) -> None:
    await company(app)
    me = await hr(app)
    assert "SMTP_URL" in await me.say("invite all")
    async with app.db.sessions() as session:
        assert await session.scalar(select(Campaign.id)) is None


async def test_invite_all_reads_segments_and_cancel_sends_nothing(
    mail_app: App, smtp: SmtpServer
) -> None:
    await company(mail_app)
    me = await hr(mail_app)
    assert "segment" in (await me.say("invite all fax:1")).lower()
    preview = await me.say("invite all department:Engineering")
    assert "1 people will be invited" in preview
    assert "Cancelled" in await me.press_action("invitations.cancel")
    await drain(mail_app)
    assert smtp.mailbox.received == []
    async with mail_app.db.sessions() as session:
        assert await session.scalar(select(Campaign.id)) is None
        audit = list(await session.scalars(select(AuditEntry.action)))
        assert "invite_all" not in audit
        contacts = list(await session.scalars(select(MailContact.person_id)))
        assert len(contacts) == 1  # only the unsubscribed one's row


async def test_forgotten_people_are_not_invited(mail_app: App, smtp: SmtpServer) -> None:
    await company(mail_app)
    async with mail_app.db.transaction() as session:
        await session.execute(
            update(Person)
            .where(Person.email == "aiko@example.com")
            .values(forgotten_at=mail_app.clock.now())
        )
    me = await hr(mail_app)
    assert "1 people will be invited" in await me.say("invite all")


def test_cli_invite_all_queues_once_and_asks_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["db", "upgrade"]) == 0
    assert main(["invite", "--all", "--yes"]) == 2
    assert "SMTP_URL" in capsys.readouterr().err
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:2525")
    monkeypatch.setenv("MAIL_FROM", "alumni@example.com")
    people_csv = tmp_path / "people.csv"
    people_csv.write_text("\n".join([HEADER, *ROWS]), encoding="utf-8")
    assert main(["import", "people", str(people_csv)]) == 0
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["invite", "--all"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["invite", "--all", "--segment", "fax:1", "--yes"]) == 2
    assert "bad segment" in capsys.readouterr().err
    assert main(["invite", "--all", "--yes"]) == 0
    assert "5 invitation mails queued" in capsys.readouterr().out
    assert main(["invite", "--all", "--yes"]) == 0
    assert "nothing queued" in capsys.readouterr().out
    assert main(["invite", "--email", "staff@example.com", "--segment", "alumni"]) == 2


def test_invalid_addresses_are_reported_by_line_at_import_and_never_queued(
    tmp_path: Path,
) -> None:
    rows = [ROWS[0], "bad-address,Bad,,Sales,,,2020-01-01,,,,,en,,,,", ROWS[2] + "nope@"]

    async def run() -> None:
        app = App.build(make_settings(f"sqlite:///{tmp_path / 'i.db'}"), FixedClock())
        await app.prepare()
        try:
            async with app.db.transaction() as session:
                with pytest.raises(importer.ImportFailed) as failed:
                    await importer.import_people(
                        session, "\n".join([HEADER, *rows]).encode(), app.clock.now()
                    )
            assert [str(e) for e in failed.value.errors] == [
                "line 3: email 'bad-address' is not a valid address",
                "line 4: private_email 'nope@' is not a valid address",
            ]
            async with app.db.sessions() as session:
                assert await session.scalar(select(Person.id)) is None
        finally:
            await app.close()

    asyncio.run(run())


async def test_the_funnel_counts_invited_delivered_bounced_unsubscribed_joined_consented(
    mail_app: App, smtp: SmtpServer
) -> None:
    await company(mail_app)
    extra = "kai@example.com,Kai,,Sales,,2015-04-01,2022-03-31,new_grad,,,,en,,,,"
    async with mail_app.db.transaction() as session:
        await importer.import_people(
            session, "\n".join([HEADER, extra]).encode(), mail_app.clock.now()
        )
    smtp.mailbox.refuse["aiko@example.com"] = "550 5.1.1 mailbox unavailable"
    me = await hr(mail_app)
    await me.say("invite all")
    await me.press_action("invitations.confirm")
    await drain(mail_app)
    emma = code_in(part(smtp.mailbox.to("emma@home.example.org")[0], "plain"))
    telegram = chat(mail_app, "777", channel="telegram")
    await telegram.say(f"/start {emma}")
    await telegram.press_action("onboarding.consent", "yes")
    kai = smtp.mailbox.to("kai@example.com")[0]
    token = kai["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    async with mail_app.db.transaction() as session:
        assert await mail.unsubscribe(session, token, mail_app.clock.now(), via="test")
    row = "invited 3 · mail delivered 2 · bounced 1 · unsubscribed 1 · joined 1 · consented 1"
    stats = await me.say("stats")
    assert row in stats and "joined people are now in: telegram 1" in stats
    assert row in await me.say("report invitations")
    assert row in await me.say("reach")
    async with mail_app.db.transaction() as session:
        await session.execute(update(Person).values(locale="ja"))
    assert "招待 3 · 配信済み 2 · 不達 1 · 配信停止 1 · 参加 1 · 同意 1" in await me.say("stats")


async def test_a_leaver_gets_the_invitation_by_mail_at_their_private_address(
    mail_app: App, smtp: SmtpServer
) -> None:
    await company(mail_app)
    async with mail_app.db.transaction() as session:
        await session.execute(
            update(Person)
            .where(Person.email == "staff@example.com")
            .values(private_email="still@home.example.org")
        )
    me = await hr(mail_app)
    done = await me.say("offboard staff@example.com 2026-12-31")
    code = code_in(done)
    assert "on its way" in done  # mail reaches them: HR need not hand the code over
    assert "offboard" in await me.say("offboard staff@example.com 2026-12-31")  # again: no-op
    await drain(mail_app)
    [got] = smtp.mailbox.received
    assert got["To"] == "still@home.example.org"  # never the company address, closing now
    assert code_in(part(got, "plain")) == code
    assert got["List-Unsubscribe"].startswith("<https://alumni.example.com/unsubscribe/")
    # Neither a chat nor a private address reaches Aiko: HR is given the code to hand over.
    async with mail_app.db.transaction() as session:
        await session.execute(
            update(Person).where(Person.email == "aiko@example.com").values(left_on=None)
        )
    alone = await me.say("offboard aiko@example.com 2026-12-31")
    assert "hand them this invite code yourself" in alone


async def test_a_code_already_taken_is_drawn_again(
    mail_app: App, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await company(mail_app)
    async with mail_app.db.sessions() as session:
        taken = await session.scalar(select(Invite.code))
    assert taken is not None
    draws = iter([[taken, "ZZZZ2222"], ["YYYY3333"]])
    monkeypatch.setattr(campaigns, "_codes", lambda count: next(draws)[:count])
    me = await hr(mail_app)
    await me.say("invite all")
    assert "2 invitation mails queued" in await me.press_action("invitations.confirm")
    async with mail_app.db.sessions() as session:
        codes = set(await session.scalars(select(Invite.code)))
    assert {"ZZZZ2222", "YYYY3333"} <= codes


async def test_a_new_address_at_import_lifts_a_bounce_but_never_an_unsubscribe(
    mail_app: App,
) -> None:
    await company(mail_app)
    now = mail_app.clock.now()
    async with mail_app.db.transaction() as session:
        aiko = await people.person_by_email(session, "aiko@example.com")
        unsub = await people.person_by_email(session, "unsub@example.com")
        assert aiko and unsub
        await mail.ensure_tokens(session, [aiko.id], now)
        await mail.record_bounces(session, [{"person_id": aiko.id, "reason": "550", "at": now}])
    rows = [ROWS[0] + "aiko@new.example.org", ROWS[3] + "unsub@new.example.org"]
    async with mail_app.db.transaction() as session:
        await importer.import_people(session, "\n".join([HEADER, *rows]).encode(), now)
    async with mail_app.db.sessions() as session:
        bounced = await session.get(MailContact, aiko.id)
        still = await session.get(MailContact, unsub.id)
        assert bounced is not None and bounced.bounced_at is None
        assert still is not None and still.unsubscribed_at is not None
