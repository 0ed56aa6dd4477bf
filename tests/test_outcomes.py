"""The outcomes ledger as HR meets it: recording from the command line, a CSV file and the chat
form, refusals of bad input that change nothing, corrections and withdrawals (all audited), and
hires from the referral pipeline that become outcomes by themselves."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.cli import main
from bot.core.clock import FixedClock
from bot.core.i18n import Catalogs
from bot.core.settings import OutcomeSettings
from bot.core.types import Button
from bot.runtime.app import App
from handlers.report_tables import Table, build
from storage import audit, privacy
from storage import outcomes as ledger
from storage.models import (
    AuditEntry,
    Event,
    Interaction,
    Match,
    Opening,
    Outcome,
    Person,
    Referral,
    Rsvp,
)
from storage.reports.filter import make_filter
from tests.conftest import chat, make_settings
from tests.support.members import member
from tests.support.people import load_company
from tests.test_jobs import BACKEND, job_messages, post, setup

CATALOGS = Catalogs.load()


async def _company(database_url: str) -> None:
    app = App.build(make_settings(database_url), FixedClock())
    try:
        await load_company(app)
    finally:
        await app.close()


async def _ledger(database_url: str) -> tuple[list[Outcome], list[AuditEntry]]:
    app = App.build(make_settings(database_url), FixedClock())
    try:
        async with app.db.transaction() as session:
            found = list(await session.scalars(select(Outcome).order_by(Outcome.id)))
            entries = await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.startswith("outcome"))
                .order_by(AuditEntry.id)
            )
            return found, list(entries)
    finally:
        await app.close()


def test_the_command_line_records_corrects_and_withdraws_outcomes(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    asyncio.run(_company(database_url))

    # A rehire valued from the stated salary: 35% of ¥8,000,000 in agency fees avoided.
    assert main(["outcome", "rehire", "hanako@example.com", "--salary", "8000000"]) == 0
    assert "Recorded O1: rehire for 山田 花子, ¥2,800,000" in capsys.readouterr().out
    # A deal in dollars, converted at the rate given with it: 1,200 × 150.
    argv = ["outcome", "deal", "emma@example.com", "--value", "1,200", "--currency", "usd",
            "--rate", "150", "--on", "2026-10-01", "--note", "ACME  pilot"]  # fmt: skip
    assert main(argv) == 0
    assert "O2: deal for Emma Brown, ¥180,000 on 2026-10-01" in capsys.readouterr().out

    refusals = [
        (["deal", "ghost@example.com", "--value", "1"], "Nobody with the email ghost@example.com"),
        (["deal", "emma@example.com", "--value", "-5"], "is negative"),
        (["deal", "emma@example.com", "--value", "20000000000"], "more than ¥10,000,000,000"),
        (["deal", "emma@example.com", "--value", "12.5"], "not a whole number of yen"),
        (["deal", "emma@example.com", "--value", "lots"], "is not an amount"),
        (["gift", "emma@example.com", "--value", "1"], "is not a kind of outcome"),
        (["deal", "emma@example.com", "--value", "5", "--currency", "USD"], "needs the rate"),
        (["deal", "emma@example.com"], "A deal needs a value"),
        (["deal", "emma@example.com", "--value", "1", "--on", "2099-01-01"], "in the future"),
        (["deal", "emma@example.com", "--value", "1", "--on", "01/10/2026"], "is not a date"),
    ]
    for argv, message in refusals:
        assert main(["outcome", *argv]) == 2, argv
        printed = capsys.readouterr().err
        assert message in printed and printed.strip().count("\n") == 0, (argv, printed)

    # A correction changes only what is given: still dollars at 150, now 2,000 of them.
    assert main(["outcome", "--correct", "2", "--value", "2000"]) == 0
    assert "Corrected O2: deal for Emma Brown, ¥300,000" in capsys.readouterr().out
    assert main(["outcome", "--withdraw", "O1"]) == 0
    assert "Withdrew O1" in capsys.readouterr().out
    assert main(["outcome", "--withdraw", "1"]) == 2  # once is enough
    assert "was withdrawn" in capsys.readouterr().err
    assert main(["outcome", "--correct", "1", "--value", "5"]) == 2
    assert main(["outcome", "--correct", "9", "--value", "5"]) == 2

    found, entries = asyncio.run(_ledger(database_url))
    assert [(o.kind, o.value_yen, o.withdrawn_at is not None) for o in found] == [
        ("rehire", 2_800_000, True),
        ("deal", 300_000, False),
    ]
    deal = found[1]
    assert (deal.currency, deal.amount, deal.rate, deal.note) == ("USD", 2000, 150, "ACME pilot")
    assert found[0].salary_yen == 8_000_000
    assert [(e.action, e.target) for e in entries] == [
        ("outcome", "outcome:1"),
        ("outcome", "outcome:2"),
        ("outcome_correct", "outcome:2"),
        ("outcome_withdraw", "outcome:1"),
    ]
    assert entries[2].detail["before"]["value_yen"] == 180_000
    assert entries[2].detail["after"]["value_yen"] == 300_000

    # The operator's report shows the ledger with its links (the command line is an admin's).
    assert main(["report", "--section", "roi", "--lang", "en"]) == 0
    printed = capsys.readouterr().out
    assert "Value by kind" in printed and "Outcomes and what led to each" in printed
    assert "Emma Brown" in printed and "300000" in printed


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from([*ledger.KINDS, "gift", ""]),
    value=st.one_of(st.none(), st.text(max_size=15), st.integers(-(10**12), 10**12).map(str)),
    salary=st.one_of(st.none(), st.text(max_size=12)),
    currency=st.one_of(st.none(), st.sampled_from(["JPY", "usd", "EUR", "円", "US$", ""])),
    rate=st.one_of(st.none(), st.text(max_size=8), st.floats(-5, 500).map(str)),
    on=st.one_of(st.none(), st.text(max_size=12), st.dates().map(date.isoformat)),
)
@example(kind="rehire", value="1E100", salary=None, currency=None, rate=None, on=None)
@example(kind="hire", value=None, salary="9E99", currency="usd", rate="150", on=None)
def test_any_input_is_an_outcome_within_bounds_or_one_refusal(
    kind: str,
    value: str | None,
    salary: str | None,
    currency: str | None,
    rate: str | None,
    on: str | None,
) -> None:
    limits = OutcomeSettings()
    today = date(2026, 11, 24)
    try:
        entry = ledger.validate(limits, today, kind=kind, value=value, salary=salary,
                                currency=currency, rate=rate, on=on)  # fmt: skip
    except ledger.BadOutcome as exc:
        assert exc.key in CATALOGS.messages["en"]  # a message in words, never a traceback
        CATALOGS.text("en", exc.key, **exc.params)  # with every placeholder it needs
        return
    assert entry.kind in ledger.KINDS
    assert 0 <= entry.value_yen <= limits.max_value_yen and entry.occurred_on <= today


# -- the referral pipeline's hires ---------------------------------------------------------------


async def test_a_hire_in_the_pipeline_becomes_an_outcome_once(app: App) -> None:
    """Emma's own interest moved to hired is a rehire of Emma, valued by the default salary
    (35% of ¥6,000,000); it is not recorded twice, and it can be corrected from the answer."""
    hr = await setup(app)
    await post(hr, BACKEND)
    [notice] = await job_messages(app, "emma@example.com")
    await chat(app, "emma@example.com").press_button(notice.all_buttons()[0])  # interested
    await hr.say("/referrals")
    for stage in ("screening", "interview", "offer", "hired"):
        await hr.press(f"R1 → {stage}")
    assert "Recorded as outcome O1 (rehire, ¥2,100,000)" in hr.text
    assert "already at" in await hr.press_button(Button("old", "referral.move", "1:hired"))
    await hr.say("/referrals")
    async with app.db.transaction() as session:
        [o] = (await session.scalars(select(Outcome))).all()
        emma = await session.scalar(select(Person).where(Person.email == "emma@example.com"))
        assert emma is not None
        assert (o.person_id, o.kind, o.value_yen, o.source) == (emma.id, "rehire", 2_100_000,
                                                                "pipeline")  # fmt: skip
        assert o.referral_id == 1 and o.occurred_on == date(2026, 11, 24)
    # Emma's real salary is known later: the correction values the rehire afresh.
    await hr.press_button(Button("fix", "outcome.edit", "1"))
    for answer in ("-", "-", "", "7,000,000", "-", "-", "-", "-"):
        await hr.say(answer)
    assert "Corrected O1: rehire for Emma Brown, ¥2,450,000" in hr.text


async def test_hr_records_an_outcome_in_the_chat_form_and_bad_values_are_asked_again(
    app: App,
) -> None:
    hr = await setup(app, hr_locale="ja")
    assert "成果を記録" in await hr.say("/outcome")
    for answer in ("deal", "ghost@example.com", "-1", "-", "-", "-", "-", "-"):
        await hr.say(answer)
    assert "ghost@example.com の人は見つかりません" in hr.text  # back to the email field
    rest = ("-",) * 5  # salary, currency, rate, date, note: asked again after a fixed field
    for answer in ("hanako@example.com", "-1", *rest):
        await hr.say(answer)
    assert "マイナス" in hr.text  # then the value
    for answer in ("99999999999", *rest):
        await hr.say(answer)
    assert "¥10,000,000,000 を超えています" in hr.text
    for answer in ("１，５００，０００円", *rest):  # full width, commas and 円 are fine
        await hr.say(answer)
    assert "O1 を記録しました: 山田 花子 さんの取引、¥1,500,000" in hr.text
    await hr.press("O1 を取り消す")
    assert "O1 を取り消しました" in hr.text
    assert "取り消し済み" in await hr.press_button(Button("old", "outcome.withdraw", "1"))
    assert "取り消し済み" in await hr.press_button(Button("old", "outcome.edit", "1"))
    async with app.db.transaction() as session:  # recorded by the operator, not by this HR
        emma_p = await ledger.person_for(session, "emma@example.com")
        entry = ledger.validate(app.settings.outcomes, date(2026, 11, 24), kind="deal", value="1")
        await ledger.record(
            session, emma_p, entry, source="cli", actor_id=None, now=app.clock.now()
        )
    assert "管理者に依頼" in await hr.press_button(Button("x", "outcome.withdraw", "2"))
    emma = chat(app, "emma@example.com")
    await emma.say("/outcome")  # alumni may not
    assert "人事" in emma.text or "HR" in emma.text
    async with app.db.transaction() as session:
        o, untouched = (await session.scalars(select(Outcome).order_by(Outcome.id))).all()
        assert o.withdrawn_at is not None and o.source == "chat"
        assert untouched.withdrawn_at is None
        actions = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.startswith("outcome"))
            .order_by(AuditEntry.id)
        )
        assert list(actions) == ["outcome", "outcome_withdraw", "outcome"]


def test_importing_outcomes_is_all_or_nothing_with_every_bad_line_named(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    asyncio.run(_company(database_url))
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "email,kind,value,on,note\n"
        "hanako@example.com,deal,500000,2026-06-01,first order\n"
        "ghost@example.com,deal,1,,\n"
        "emma@example.com,purchase,-3,,\n"
        "emma@example.com,gift,3,,\n",
        encoding="utf-8",
    )
    assert main(["import", "outcomes", str(bad)]) == 1
    printed = capsys.readouterr().err
    assert "line 3: Nobody with the email ghost@example.com" in printed
    assert "line 4:" in printed and "is negative" in printed
    assert "line 5:" in printed and "not a kind of outcome" in printed
    assert "line 2" not in printed
    assert asyncio.run(_ledger(database_url)) == ([], [])

    good = tmp_path / "good.csv"
    good.write_text(
        "\ufeffemail,kind,value,on,note\n"
        "hanako@example.com,deal,500000,2026-06-01,first order\n"
        'Emma@Example.com,purchase,"12,000",2026-07-15,\n',
        encoding="utf-8",
    )
    assert main(["import", "outcomes", str(good)]) == 0
    assert "outcomes: 2 created" in capsys.readouterr().out
    found, entries = asyncio.run(_ledger(database_url))
    assert [(o.kind, o.value_yen, o.occurred_on.isoformat(), o.source) for o in found] == [
        ("deal", 500_000, "2026-06-01", "import"),
        ("purchase", 12_000, "2026-07-15", "import"),
    ]
    assert [e.action for e in entries] == ["outcome", "outcome"]


# -- the ROI section, against figures worked out by hand -----------------------------------------


async def roi_company(app: App) -> dict[str, int]:
    """Hanako's rehire (¥2,100,000, 2026-09-01) came from her own interest in a matched opening
    and followed a hello to her former manager Taro; six more alumni (卒業生1–6) each closed a
    ¥100,000 deal on 2026-06-15 after one contact with Taro in March; five of them had been to
    the 2026-05-20 meetup (卒業生6 to one in January: too early); 卒業生2 was referred by Taro.
    Emma's purchase was withdrawn; 卒業生1's contract of 2025 is before the range."""
    await load_company(app)
    settings, today, now = app.settings.outcomes, date(2026, 11, 24), app.clock.now()
    ids: dict[str, int] = {}
    async with app.db.transaction() as session:
        for p in await session.scalars(select(Person)):
            ids[p.email or ""] = p.id
        for i in range(1, 7):
            alum = Person(email=f"alum{i}@example.com", name=f"卒業生{i}", department="営業",
                          joined_on=date(2018, 4, 1), left_on=date(2024, 1, 1))  # fmt: skip
            session.add(alum)
            await session.flush()
            ids[f"alum{i}"] = alum.id
        taro, hanako = ids["taro@example.com"], ids["hanako@example.com"]
        opening = Opening(title="Backend Engineer")
        meetup = Event(uid="meetup", title="Summer meetup", timezone="Asia/Tokyo",
                       starts_at=datetime(2026, 5, 20, 10, tzinfo=UTC),
                       ends_at=datetime(2026, 5, 20, 12, tzinfo=UTC))  # fmt: skip
        new_year = Event(uid="ny", title="New year", timezone="Asia/Tokyo",
                         starts_at=datetime(2026, 1, 10, 10, tzinfo=UTC),
                         ends_at=datetime(2026, 1, 10, 12, tzinfo=UTC))  # fmt: skip
        session.add_all([opening, meetup, new_year])
        await session.flush()
        august = datetime(2026, 8, 1, tzinfo=UTC)
        told = Match(opening_id=opening.id, person_id=hanako, score=0.9, reason={},
                     notified_at=august, response="interested", created_at=august)  # fmt: skip
        session.add(told)
        own = Referral(opening_id=opening.id, kind="interest", candidate_person_id=hanako,
                       candidate_name="山田 花子", candidate_key="hanako@example.com",
                       status="hired", created_at=datetime(2026, 8, 5, tzinfo=UTC))  # fmt: skip
        referred = Referral(opening_id=opening.id, kind="referral", referrer_id=taro,
                            candidate_person_id=ids["alum2"], candidate_name="卒業生2",
                            candidate_key="alum2@example.com",
                            created_at=datetime(2026, 5, 1, tzinfo=UTC))  # fmt: skip
        session.add_all([own, referred])
        await session.flush()
        await audit.record(session, datetime(2026, 7, 1, tzinfo=UTC), hanako, "intro",
                           f"person:{taro}", kind="hello")  # fmt: skip
        for i in range(1, 7):
            pid = ids[f"alum{i}"]
            session.add(Rsvp(event_id=(meetup if i < 6 else new_year).id, person_id=pid,
                             status="going", attended=True))  # fmt: skip
            session.add(Interaction(person_a=taro, person_b=pid, kind="online",
                                    occurred_on=date(2026, 3, 1), source="log"))  # fmt: skip
            person = await session.get(Person, pid)
            assert person is not None
            deal = ledger.validate(settings, today, kind="deal", value="100000", on="2026-06-15")
            await ledger.record(session, person, deal, source="cli", actor_id=None, now=now)
        first = await session.get(Person, ids["alum1"])
        me, emma = (
            await session.get(Person, hanako),
            await session.get(Person, ids["emma@example.com"]),
        )
        assert first and me and emma
        old = ledger.validate(settings, today, kind="contract", value="300000", on="2025-01-01")
        await ledger.record(session, first, old, source="cli", actor_id=None, now=now)
        rehire = ledger.validate(settings, today, kind="rehire", on="2026-09-01")
        await ledger.record(session, me, rehire, source="pipeline", actor_id=None, now=now,
                            referral_id=own.id)  # fmt: skip
        bought = ledger.validate(settings, today, kind="purchase", value="50000", on="2026-09-10")
        gone = await ledger.record(session, emma, bought, source="cli", actor_id=None, now=now)
        await ledger.withdraw(session, gone, actor_id=None, now=now)
        ids["opening"], ids["own"], ids["referred"] = opening.id, own.id, referred.id
    return ids


async def roi_tables(app: App, individuals: bool, lang: str = "en") -> dict[str, Table]:
    f = make_filter(date(2026, 11, 24), zone="Asia/Tokyo")
    async with app.db.transaction() as session:
        built = await build(session, f, app.catalogs.translator(lang), ("roi",),
                            individuals=individuals)  # fmt: skip
    return {t.title: t for t in built}


async def test_the_roi_section_adds_up_by_hand_and_hides_small_groups(app: App) -> None:
    ids = await roi_company(app)
    found = await roi_tables(app, individuals=False)
    kinds = found["Value by kind"]
    # rehire: Hanako alone → hidden; deals: six people; the withdrawn and the 2025 ones: nowhere
    assert kinds.rows == (
        ("Rehires", 1, None, None),
        ("Referral hires", 0, None, None),
        ("Contracts", 0, None, None),
        ("Deals", 6, 6, 600_000),
        ("Purchases", 0, None, None),
        ("All outcomes", 7, 7, 2_700_000),
    )
    assert "hidden, fewer than 5 people" in kinds.note
    assert found["Value by quarter"].rows == (
        ("2026 Q2", 6, 6, 600_000),
        ("2026 Q3", 1, None, None),
    )
    # active alumni: the six with a contact in the range; 7 outcomes × 100 / 6
    [(_, active, outcomes, per_100)] = found["Outcomes per 100 active alumni"].rows
    assert (active, outcomes) == (6, 7) and per_100 == pytest.approx(116.67, abs=0.01)
    by_frequency = found["Value by contacts a year (does keeping in touch pay?)"].rows
    assert by_frequency == (
        ("0 a year", 2, None, None, None),  # Hanako and Emma: hidden
        ("1–2 a year", 6, 6, 600_000, 100_000.0),
        ("3–5 a year", 0, None, None, None),
        ("6–11 a year", 0, None, None, None),
        ("12+ a year", 0, None, None, None),
    )
    assert found["From match to value"].rows == (
        ("told of a matching opening", 1, None),
        ("interested", 1, None),
        ("Referred or own interest", 2, None),
        ("hired", 1, None),
        ("Outcomes of those hires", None, None),  # Hanako alone: hidden
    )
    links = {row[0]: row[1:] for row in found["What led to the outcomes"].rows}
    assert links == {
        "Interested in a matched opening": (1, None, None),
        "A referral": (2, None, None),  # Hanako's own interest, 卒業生2 by Taro
        "An event in the 90 days before": (5, 5, 500_000),  # not 卒業生6's January one
        "An intro with a former manager or colleague": (1, None, None),
        "In touch in the year before": (6, 6, 600_000),
        "Nothing the bot recorded": (0, None, None),
    }
    assert "90 days" in found["What led to the outcomes"].note
    assert "Outcomes and what led to each (admins only)" not in found  # HR: aggregates only

    ledger_rows = (await roi_tables(app, individuals=True))[
        "Outcomes and what led to each (admins only)"
    ].rows
    by_name = {str(row[0]).split(" ", 2)[2]: row for row in ledger_rows}
    assert set(by_name) == {"山田 花子", *(f"卒業生{i}" for i in range(1, 7))}
    op, own, referred = ids["opening"], ids["own"], ids["referred"]
    assert by_name["山田 花子"][1:] == (
        "Rehires",
        2_100_000,
        f"interested in #{op} Backend Engineer; referral R{own} #{op}; "
        "intro with 佐藤 太郎 (former manager); contacts in the year before: 0",
    )
    assert by_name["卒業生2"][3] == (
        f"referral R{referred} #{op} · 佐藤 太郎; attended Summer meetup 2026-05-20; "
        "contacts in the year before: 1"
    )
    assert by_name["卒業生6"][3] == "contacts in the year before: 1"


async def test_hr_sees_roi_aggregates_and_admins_the_ledger_in_chat(app: App) -> None:
    await roi_company(app)
    admin = await member(app, "admin@example.com", "201", locale="en")
    hr = await member(app, "hr@example.com", "202", locale="ja")
    answer = await hr.say("/report roi")
    assert "種類別の金額" in answer and "マッチから成果まで" in answer
    assert "管理者のみ" not in answer and "卒業生1" not in answer
    answer = await admin.say("/report roi")
    assert "Outcomes and what led to each (admins only)" in answer and "卒業生1" in answer
    await admin.press("Chart: Return on the network")
    [reply] = admin.last
    assert reply.attachment is not None and reply.attachment.content[:4] == b"\x89PNG"


# -- privacy and exports -------------------------------------------------------------------------


async def test_mydata_has_her_outcomes_and_forgetme_keeps_only_the_anonymous_amounts(
    app: App,
) -> None:
    await load_company(app)
    async with app.db.transaction() as session:
        hanako = await ledger.person_for(session, "hanako@example.com")
        note = "営業部長として復帰"
        entry = ledger.validate(app.settings.outcomes, date(2026, 11, 24), kind="rehire",
                                salary="9000000", on="2026-10-01", note=note)  # fmt: skip
        await ledger.record(session, hanako, entry, source="cli", actor_id=None,
                            now=app.clock.now())  # fmt: skip
        mine = (await privacy.export(session, hanako))["outcomes"]
    assert [(o["kind"], o["value_yen"], o["salary_yen"], o["note"]) for o in mine] == [
        ("rehire", 3_150_000, 9_000_000, "営業部長として復帰")
    ]
    admin = await member(app, "admin@example.com", "201", locale="en")
    await admin.say("/export outcomes 2026-01-01 2026-12-31")
    [reply] = admin.last
    assert reply.attachment is not None
    exported = list(csv.DictReader(io.StringIO(reply.attachment.content.decode("utf-8-sig"))))
    assert [(r["email"], r["value_yen"], r["kind"]) for r in exported] == [
        ("hanako@example.com", "3150000", "rehire")
    ]

    me = await member(app, "hanako@example.com", "301", locale="ja")
    await me.say("/forgetme")
    assert "削除しました" in await me.press("データを削除する")
    async with app.db.transaction() as session:
        [kept] = (await session.scalars(select(Outcome))).all()
        assert (kept.note, kept.salary_yen, kept.value_yen) == (None, None, 3_150_000)
        with pytest.raises(ledger.BadOutcome):  # nobody records outcomes for her any more
            await ledger.person_for(session, "hanako@example.com")
    await admin.say("/export outcomes 2026-01-01 2026-12-31")
    assert admin.last[0].attachment is not None
    assert admin.last[0].attachment.content.decode("utf-8-sig").count("\n") == 1  # header only
    found = await roi_tables(app, individuals=True)
    assert found["Value by kind"].rows[0] == ("Rehires", 1, None, None)  # counted, hidden
    [(name, *_)] = found["Outcomes and what led to each (admins only)"].rows
    assert str(name).endswith("—")  # the ledger no longer names her
