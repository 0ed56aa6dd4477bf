"""Invite codes that cannot be used, joining twice, several identities, and privacy."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import JSON, ColumnElement, func, or_, select

from bot.core.clock import FixedClock
from bot.core.types import Reply
from bot.runtime.app import App
from storage import invites, outbox, people, privacy
from storage.models import (
    Base,
    Identity,
    Interaction,
    Invite,
    Opening,
    OutboxMessage,
    Person,
    Referral,
    Relation,
)
from storage.perks import tenure_months
from tests.conftest import chat
from tests.support.people import load_company
from tests.test_onboarding import invite_code, join_directly


async def test_unknown_expired_and_used_codes_are_refused_and_change_nothing(
    app: App, clock: FixedClock
) -> None:
    await load_company(app)
    code = await invite_code(app, "hanako@example.com")
    stranger = chat(app, "tg-1", channel="telegram", locale_hint="en")
    assert "not valid" in await stranger.say("/join NOPE2345")
    assert "Send join followed by" in await stranger.say("/join")

    first = chat(app, "tg-hanako", channel="telegram", locale_hint="ja")
    await first.say(f"/join {code.lower()}")  # codes are case-insensitive
    assert "同意" in first.text
    assert "already been used" in await stranger.say(f"/join {code}")

    later = await invite_code(app, "emma@example.com")
    clock.advance(days=31)
    assert "expired" in await stranger.say(f"join {later}")
    async with app.db.transaction() as session:
        emma = await people.person_by_email(session, "emma@example.com")
        assert emma is not None
        linked = await session.scalar(
            select(func.count()).select_from(Identity).where(Identity.person_id == emma.id)
        )
        uses = await session.scalar(select(Invite.uses).where(Invite.code == later))
    assert (linked, uses) == (0, 0)


async def test_joining_twice_and_from_a_second_place(app: App) -> None:
    await load_company(app)
    code = await invite_code(app, "emma@example.com")
    slack = chat(app, "U-EMMA", channel="slack", workspace="T1", locale_hint="en")
    await slack.say(f"join {code}")
    await slack.press("I agree")
    assert "already joined" in await slack.say(f"join {code}")

    # A second place with a new invite for the same person links to the same person.
    second = await invite_code(app, "emma@example.com")
    telegram = chat(app, "555", channel="telegram", locale_hint="en")
    assert "Welcome back, Emma Brown" in await telegram.say(f"/start {second}")
    # …but the same person cannot get a second account on a platform where she already is.
    third = await invite_code(app, "emma@example.com")
    other_slack = chat(app, "U-MALLORY", channel="slack", workspace="T1", locale_hint="en")
    assert "already connected here" in await other_slack.say(f"join {third}")
    async with app.db.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(Person))
        ids = (
            await session.scalars(select(Identity.user_id).where(Identity.person_id.isnot(None)))
        ).all()
    assert count == 5
    assert sorted(ids) == sorted(["hr@example.com", "U-EMMA", "555"])


async def test_shared_code_creates_new_members(app: App) -> None:
    await load_company(app)
    await join_directly(app, "hr@example.com")
    hr = chat(app, "hr@example.com")
    answer = await hr.say("/invite uses=2 days=7")
    found = re.search(r"\b([A-Z2-9]{8})\b", answer)
    assert found, answer
    code = found.group(1)
    for uid in ("a", "b"):
        newcomer = chat(app, uid, channel="telegram", display_name=f"New {uid}", locale_hint="en")
        assert "Welcome, New" in await newcomer.say(f"/join {code}")
    assert "使用済み" in await chat(app, "c", channel="telegram").say(f"/join {code}")  # default ja
    assert "uses=N" in await hr.say("/invite uses=zero")


async def test_pause_toggles(app: App) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    assert "Paused" in await emma.say("pause")
    assert "Paused: yes" in await emma.say("/settings")
    assert "Messages are on again" in await emma.say("pause")


async def test_mydata_is_a_json_file_of_the_persons_data(app: App) -> None:
    await load_company(app)
    await join_directly(app, "hanako@example.com")
    hanako = chat(app, "hanako@example.com")
    await hanako.say("/mydata")
    reply = hanako.last[0]
    assert reply.private_only and reply.attachment is not None
    data = json.loads(reply.attachment.content)
    assert data["person"]["name"] == "山田 花子"
    assert data["relations"] and data["identities"][0]["channel"] == "console"


async def test_forgetme_erases_personal_data_and_keeps_anonymous_counts(app: App) -> None:
    await load_company(app)
    await join_directly(app, "hanako@example.com", locale="ja")
    async with app.db.transaction() as session:
        hanako = await people.person_by_email(session, "hanako@example.com")
        taro = await people.person_by_email(session, "taro@example.com")
        assert hanako and taro
        a, b = sorted((hanako.id, taro.id))
        session.add(Interaction(person_a=a, person_b=b, kind="online", occurred_on=date(2026, 5, 1),
                                source="log", note="coffee"))  # fmt: skip
    me = chat(app, "hanako@example.com")
    await me.say("/forgetme")
    assert "何も削除していません" in await me.press("削除しない")
    await me.say("/forgetme")
    assert "削除しました" in await me.press("データを削除する")
    assert "招待コード" in await me.say("/profile")  # no longer linked
    async with app.db.transaction() as session:
        gone = await session.get(Person, hanako.id)
        assert gone is not None and gone.email is None and gone.name == "—" and gone.skills == []
        interaction = (await session.scalars(select(Interaction))).one()
        assert interaction.note is None  # the count stays, the note goes
        assert await people.person_by_email(session, "hanako@example.com") is None
    async with app.db.transaction() as session:
        assert (await invites.find(session, "whatever")) is None


async def test_forgetme_leaves_no_trace_that_names_her(app: App) -> None:
    """Her words in referrals she made, others' queued messages that quote her name, who she
    worked with, and the exact days she joined and left: all gone; another's note stays theirs."""
    await load_company(app)
    await join_directly(app, "hanako@example.com", locale="ja")
    now = app.clock.now()
    async with app.db.transaction() as session:
        hanako = await people.person_by_email(session, "hanako@example.com")
        taro = await people.person_by_email(session, "taro@example.com")
        assert hanako and taro
        tenure = tenure_months(hanako)
        a, b = sorted((hanako.id, taro.id))
        session.add(
            Interaction(
                person_a=a,
                person_b=b,
                kind="online",
                occurred_on=date(2026, 5, 1),
                source="log",
                logged_by=hanako.id,
                note="転職の相談をされた",
            )
        )
        opening = Opening(title="法人営業")
        session.add(opening)
        await session.flush()
        session.add(
            Referral(
                opening_id=opening.id,
                referrer_id=hanako.id,
                candidate_name="友人 一郎",
                candidate_key="ichiro@example.com",
                relationship_="大学の同期",
                why="前職で一緒に働いた",
            )
        )
        for key, text in (
            ("hello", "山田花子さんからよろしくとのことです"),
            ("other", "今月の近況"),
        ):
            await outbox.enqueue(
                session, person_id=taro.id, reply=Reply(text), key=key, kind="nudge", now=now
            )
        taros = await privacy.export(session, taro)
        assert [i["note"] for i in taros["interactions"]] == [None]  # her note is not his data
    me = chat(app, "hanako@example.com")
    await me.say("/forgetme")
    assert "削除しました" in await me.press("データを削除する")
    async with app.db.transaction() as session:
        gone = await session.get(Person, hanako.id)
        assert gone is not None and gone.left_on == date(2023, 3, 1)
        assert tenure_months(gone) == tenure  # reports count the same tenure
        referral = (await session.scalars(select(Referral))).one()
        assert (referral.why, referral.relationship_) == (None, None)
        assert (
            await session.scalar(
                select(func.count())
                .select_from(Relation)
                .where(or_(Relation.person_id == hanako.id, Relation.other_id == hanako.id))
            )
            == 0
        )
        queued = (await session.scalars(select(OutboxMessage))).all()
        assert [m.idempotency_key for m in queued] == ["other"]


# -- every personal column: in mydata, gone after forgetme ---------------------------------------


def _distinct(column: ColumnElement[Any], n: int) -> Any:
    """A value for this column that no default or blank could equal."""
    if isinstance(column.type, JSON):
        return [f"x{n}{column.key}"]
    python = column.type.python_type
    if python is str:
        length = getattr(column.type, "length", None) or 200
        return f"x{n}{column.key}"[:length]
    if python is bool:
        default = getattr(column, "default", None)
        return not (default.arg if default is not None else False)
    if python is int:
        return 1000 + n
    if python is datetime:
        return datetime(2001, 2, 3, 4, 5, n % 60, tzinfo=UTC)
    if python is date:
        return date(2001, 2, 1 + n % 28)
    if python is time:
        return time(1, n % 60)
    raise AssertionError(f"no test value for {column}")


async def test_every_column_of_a_person_reaches_mydata_and_forgetme_clears_it(app: App) -> None:
    """A column added to people or identities is exported and erased without anyone keeping a
    list by hand; forgetting keeps only the reviewed columns that aggregate reports count."""
    await load_company(app)
    await join_directly(app, "hanako@example.com")
    person_columns = [c for c in Person.__table__.columns if c.key not in ("id", "forgotten_at")]
    identity_columns = [c for c in Identity.__table__.columns if c.key not in ("id", "person_id")]
    async with app.db.transaction() as session:
        hanako = await people.person_by_email(session, "hanako@example.com")
        assert hanako is not None
        identity = (
            await session.scalars(select(Identity).where(Identity.person_id == hanako.id))
        ).one()
        wanted = {c.key: _distinct(c, n) for n, c in enumerate(person_columns)}
        for key, value in wanted.items():
            setattr(hanako, key, value)
        wanted_identity = {c.key: _distinct(c, n) for n, c in enumerate(identity_columns)}
        wanted_identity |= {"channel": "console", "user_id": identity.user_id, "reachable": True}
        for key, value in wanted_identity.items():
            setattr(identity, key, value)
        pid = hanako.id
    async with app.db.transaction() as session:
        hanako = await session.get(Person, pid)
        assert hanako is not None
        data = json.loads(json.dumps(await privacy.export(session, hanako), default=str))
    plain = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in wanted.items()}
    assert {k: data["person"].get(k) for k in plain} == plain
    (exported,) = data["identities"]
    assert set(exported) == set(wanted_identity)

    async with app.db.transaction() as session:
        hanako = await session.get(Person, pid)
        assert hanako is not None
        await privacy.forget(session, hanako, app.clock.now())
    async with app.db.transaction() as session:
        gone = await session.get(Person, pid)
        assert gone is not None and gone.is_forgotten
        still = {k for k, v in wanted.items() if getattr(gone, k) == v}
        assert not await session.scalar(
            select(func.count()).select_from(Identity).where(Identity.person_id == pid)
        )
    assert still <= privacy.KEPT_WHEN_FORGOTTEN, f"not cleared by forgetme: {still}"


def test_every_table_that_points_at_a_person_has_a_privacy_rule() -> None:
    pointing = {
        table.name
        for table in Base.metadata.sorted_tables
        if any(fk.column.table.name == "people" for fk in table.foreign_keys)
    }
    assert pointing - set(privacy.TABLES) == set(), "add them to storage/privacy.py TABLES"
    assert set(privacy.TABLES) - pointing == set()
