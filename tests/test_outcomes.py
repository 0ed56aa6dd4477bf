"""The outcomes ledger as HR meets it: recording from the command line, a CSV file and the chat
form, refusals of bad input that change nothing, corrections and withdrawals (all audited), and
hires from the referral pipeline that become outcomes by themselves."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.core.clock import FixedClock
from bot.core.types import Button
from bot.runtime.app import App
from storage.models import AuditEntry, Outcome, Person
from tests.conftest import chat, make_settings
from tests.support.people import load_company
from tests.test_jobs import BACKEND, job_messages, post, setup


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
    emma = chat(app, "emma@example.com")
    await emma.say("/outcome")  # alumni may not
    assert "人事" in emma.text or "HR" in emma.text
    async with app.db.transaction() as session:
        [o] = (await session.scalars(select(Outcome))).all()
        assert o.withdrawn_at is not None and o.source == "chat"
        actions = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.startswith("outcome"))
        )
        assert list(actions) == ["outcome", "outcome_withdraw"]


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
