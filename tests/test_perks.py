"""Perks: HR posts them, eligible alumni hear of them (a weekly digest when several arrive),
claim a code once each, expired perks disappear — and the bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bot.core.clock import FixedClock
from bot.core.types import Button, Incoming
from bot.runtime.app import App
from handlers import perks as perk_handlers
from storage.models import OutboxMessage, Perk, PerkClaim, PerkCode, Person
from storage.perks import tenure_months
from tests.conftest import _truncate, chat, make_settings
from tests.support.crowd import add_people
from tests.support.dialog import Chat
from tests.support.people import load_company
from tests.test_onboarding import join_directly

FIELDS = (
    "title",
    "description",
    "partner",
    "how_to_redeem",
    "eligibility",
    "min_tenure_months",
    "department",
    "valid_from",
    "valid_until",
    "codes",
)


async def post_perk(hr: Chat, **answers: str) -> str:
    """Answer the `postperk` form; "-" keeps a default or skips an optional field."""
    defaults = {"title": "Coffee discount", "how_to_redeem": "Show this message at the counter"}
    await hr.say("/postperk")
    for name in FIELDS:
        await hr.say(answers.get(name, defaults.get(name, "-")))
    return hr.text


async def company(app: App) -> tuple[Chat, Chat, Chat]:
    """HR (English), Hanako (Japanese alumna, 営業, 95 months), Emma (English alumna,
    Engineering, 56 months)."""
    await load_company(app)
    for email, locale in (
        ("hr@example.com", "en"),
        ("hanako@example.com", "ja"),
        ("emma@example.com", "en"),
    ):
        await join_directly(app, email, locale)
    return (
        chat(app, "hr@example.com"),
        chat(app, "hanako@example.com"),
        chat(app, "emma@example.com"),
    )


async def latest_perk(app: App) -> Perk:
    async with app.db.transaction() as session:
        perk = (await session.scalars(select(Perk).order_by(Perk.id.desc()))).first()
    assert perk is not None
    return perk


async def announcements(app: App) -> dict[str, list[str]]:
    """{email: [texts]} of the perk messages queued so far."""
    async with app.db.transaction() as session:
        rows = (
            await session.execute(
                select(Person.email, OutboxMessage.payload)
                .join(Person, Person.id == OutboxMessage.person_id)
                .where(OutboxMessage.kind == "perk")
                .order_by(OutboxMessage.id)
            )
        ).all()
    out: dict[str, list[str]] = {}
    for email, payload in rows:
        out.setdefault(email, []).append(payload["text"])
    return out


def claim(perk_id: int) -> Button:
    return Button("claim", "perks.claim", str(perk_id))


async def test_post_announce_claim_codes_and_count_in_both_languages(app: App) -> None:
    hr, hanako, emma = await company(app)
    await join_directly(app, "taro@example.com", "ja")  # an employee: perks are for alumni
    answer = await post_perk(hr, partner="Blue Bottle", codes="CODE-A\nCODE-B, CODE-A")
    assert 'Perk "Coffee discount" saved with 2 codes' in answer and "2 eligible" in answer

    assert await perk_handlers.announce(app) == 2
    told = await announcements(app)
    assert set(told) == {"hanako@example.com", "emma@example.com"}
    assert "新しいアルムナイ特典" in told["hanako@example.com"][0]
    assert "A new alumni perk" in told["emma@example.com"][0]
    assert "Blue Bottle" in told["emma@example.com"][0]
    assert await perk_handlers.announce(app) == 0  # announced once

    assert "Coffee discount" in await emma.say("/perks")
    assert emma.last[0].private_only
    assert "Your code: CODE-A" in await emma.press("Claim: Coffee discount")
    assert "Show this message at the counter" in emma.text
    assert "コード：CODE-B" in await hanako.press_button(claim((await latest_perk(app)).id))
    assert "already claimed" in await emma.press_button(claim((await latest_perk(app)).id))
    assert "Your code: CODE-A" in emma.text  # shown again, not a new one
    assert "✓ Claimed" in await emma.say("/perks")

    await add_people(
        app.db, 1, app.clock.now(), channel="console", prefix="late", left_on=date(2024, 1, 31)
    )
    late = chat(app, "late0")
    assert "all codes for Coffee discount have been claimed" in await late.press_button(
        claim((await latest_perk(app)).id)
    )

    assert "Coffee discount — 2 claims · codes 2/2" in await hr.say("/perks")
    assert "山田 花子" in await hr.press("Claims: Coffee discount")
    assert "Emma Brown" in hr.text and "2 claims" in hr.text
    async with app.db.transaction() as session:
        assert len((await session.scalars(select(PerkClaim))).all()) == 2


async def test_eligibility_by_tenure_and_by_former_department(sqlite_app: App) -> None:
    app = sqlite_app
    hr, hanako, emma = await company(app)
    await post_perk(hr, title="Long-timer gift", eligibility="tenure", min_tenure_months="60")
    tenure = await latest_perk(app)
    await post_perk(
        hr, title="Engineers' books", eligibility="department", department="engineering"
    )
    department = await latest_perk(app)

    assert await perk_handlers.announce(app) == 2
    told = await announcements(app)
    assert "Long-timer gift" in told["hanako@example.com"][0]
    assert "Engineers' books" in told["emma@example.com"][0]
    assert "Long-timer gift" not in told["emma@example.com"][0]

    assert "Long-timer gift" in await hanako.say("/perks")
    assert "Engineers' books" not in hanako.text
    assert "not available to you" in await emma.press_button(claim(tenure.id))
    assert "対象外" in await hanako.press_button(claim(department.id))
    assert "You claimed Engineers' books" in await emma.press_button(claim(department.id))
    assert "HR" not in emma.text


async def test_several_new_perks_in_a_week_go_out_as_one_digest(
    sqlite_app: App, clock: FixedClock
) -> None:
    app = sqlite_app
    hr, _, _ = await company(app)
    await post_perk(hr, title="Gym")
    assert await perk_handlers.announce(app) == 2
    clock.advance(days=1)
    await post_perk(hr, title="Books")
    await post_perk(hr, title="Travel")
    assert await perk_handlers.announce(app) == 0  # held for the weekly digest
    clock.advance(days=5, hours=23)
    assert await perk_handlers.announce(app) == 0
    clock.advance(hours=1)
    assert await perk_handlers.announce(app) == 2
    digest = (await announcements(app))["emma@example.com"][-1]
    assert "2 new alumni perks this week" in digest
    assert "Books" in digest and "Travel" in digest and "Gym" not in digest
    ja = (await announcements(app))["hanako@example.com"][-1]
    assert "今週の新しいアルムナイ特典（2 件）" in ja


async def test_opted_out_and_not_yet_valid_perks_are_not_announced(
    sqlite_app: App, clock: FixedClock
) -> None:
    app = sqlite_app
    hr, hanako, _ = await company(app)
    await hanako.say("/settings")
    await hanako.press_action("settings.toggle", "perks")
    await post_perk(hr, valid_from="2026-12-01")
    assert await perk_handlers.announce(app) == 0
    assert "No perks for you" in await chat(app, "emma@example.com").say("/perks")
    clock.current = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    assert await perk_handlers.announce(app) == 1
    assert set(await announcements(app)) == {"emma@example.com"}


async def test_bad_perk_input_gets_one_clear_message_and_changes_nothing(
    sqlite_app: App, clock: FixedClock
) -> None:
    app = sqlite_app
    hr, hanako, emma = await company(app)
    assert "only available to HR" in await emma.say("/postperk")
    assert "人事または管理者のみ" in await hanako.say("/postperk")

    assert "already passed" in await post_perk(hr, valid_until="2026-11-23")
    assert "Valid until" in hr.text  # asked again
    await hr.say("cancel")
    assert "not be before the start" in await post_perk(
        hr, valid_from="2026-12-10", valid_until="2026-12-01"
    )
    await hr.say("cancel")
    assert "minimum tenure in months" in await post_perk(hr, eligibility="tenure")
    await hr.say("cancel")
    assert "minimum tenure in months" in await post_perk(
        hr, eligibility="tenure", min_tenure_months="-3"
    )
    await hr.say("cancel")
    assert "give the department" in await post_perk(hr, eligibility="department")
    await hr.say("cancel")
    assert "how to redeem" in await post_perk(hr, how_to_redeem="-")
    await hr.say("cancel")
    async with app.db.transaction() as session:
        assert (await session.scalars(select(Perk))).all() == []

    await post_perk(hr, title="Short-lived", valid_until="2026-11-25")
    perk = await latest_perk(app)
    assert "Short-lived" in await emma.say("/perks")
    clock.advance(days=2)
    assert "No perks for you" in await emma.say("/perks")
    assert "Short-lived has expired" in await emma.press_button(claim(perk.id))
    assert "expired" in await hr.say("/perks")  # HR still sees it, marked
    assert "button has expired" in await emma.press_button(Button("x", "perks.claim", "999"))


# ---- PostgreSQL: real concurrency -----------------------------------------------------------


@pytest.fixture
async def pg_app(pg_url: str, clock: FixedClock) -> AsyncIterator[App]:
    await _truncate(pg_url)
    application = App.build(make_settings(pg_url), clock)
    yield application
    await application.close()


@pytest.mark.postgres
async def test_concurrent_claims_each_get_a_different_code_until_they_run_out(
    pg_app: App,
) -> None:
    app = pg_app
    now = app.clock.now()
    await add_people(app.db, 10, now, channel="console", prefix="c", left_on=date(2024, 3, 31))
    async with app.db.transaction() as session:
        perk = Perk(title="Concert tickets", how_to_redeem="At the door", created_at=now)
        session.add(perk)
        await session.flush()
        session.add_all(PerkCode(perk_id=perk.id, code=f"T-{n}") for n in range(4))
        perk_id = perk.id

    def tap(user: str) -> Incoming:
        return Incoming(chat(app, user).actor, user, action="perks.claim", payload=str(perk_id))

    users = [f"c{n}" for n in range(10)] + ["c0", "c1"]  # two double taps
    replies = await asyncio.gather(*(app.dispatcher.dispatch(tap(u)) for u in users))
    texts = [r[0].text for r in replies]
    assert not [t for t in texts if "Sorry, something went wrong" in t], texts
    claimed = [t for t in texts if t.startswith("You claimed Concert tickets. Your code: T-")]
    again = [t for t in texts if t.startswith("You already claimed")]
    out = [t for t in texts if "all codes for Concert tickets have been claimed" in t]
    assert len(claimed) == 4 and len(set(claimed)) == 4, texts
    assert len(claimed) + len(again) + len(out) == len(texts), texts
    assert len(out) >= 6, texts
    async with app.db.transaction() as session:
        codes = (await session.scalars(select(PerkCode))).all()
        claims = (await session.scalars(select(PerkClaim))).all()
    holders = [c.claimed_by for c in codes]
    assert None not in holders and len(set(holders)) == 4
    assert len(claims) == 4 and {c.person_id for c in claims} == set(holders)
    assert all(c.code_id is not None for c in claims)


def test_tenure_months() -> None:
    p = Person(joined_on=date(2015, 4, 1), left_on=date(2023, 3, 31))
    assert tenure_months(p) == 95
    assert tenure_months(Person(joined_on=date(2020, 1, 31), left_on=date(2020, 2, 29))) == 0
    assert tenure_months(Person(joined_on=date(2020, 1, 15), left_on=date(2021, 1, 15))) == 12
    assert tenure_months(Person(joined_on=None, left_on=date(2021, 1, 15))) is None
