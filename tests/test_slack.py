"""Slack end to end: the real `serve` app with really signed requests, against a fake Slack Web
API on 127.0.0.1. Every foundation route, the App Home, modals, retries and bad input."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.channels.slack import render
from bot.core.channel import DeliveryError, RateLimited, Recipient, TransientError, Unreachable
from bot.core.clock import FixedClock
from bot.core.types import Attachment, Button, Reply
from bot.runtime.delivery import Worker
from storage import people
from storage.models import (
    Event,
    Identity,
    InboxItem,
    Interaction,
    Invite,
    Match,
    Opening,
    OutboxMessage,
    Rsvp,
)
from tests.fakes.fake_channel import VirtualSleep
from tests.fakes.slack_api import FakeSlackAPI, block_errors
from tests.support.slack_workspace import (
    ADMIN,
    EMMA,
    HANAKO,
    STRANGER,
    STRANGER_JA,
    SUZUKI,
    TARO,
    Workspace,
    add_users,
    load_linked_company,
    serving,
    signature,
    slack_settings,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackAPI]:
    api = FakeSlackAPI()
    add_users(api)
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def slack(sqlite_url: str, clock: FixedClock, fake: FakeSlackAPI) -> AsyncIterator[Workspace]:
    async with serving(slack_settings(sqlite_url, fake), clock, fake) as workspace:
        await load_linked_company(workspace.app)
        yield workspace


@pytest.fixture
async def slack_db(
    database_url: str, clock: FixedClock, fake: FakeSlackAPI
) -> AsyncIterator[Workspace]:
    """The same on SQLite and PostgreSQL, where storage behaviour matters."""
    async with serving(slack_settings(database_url, fake), clock, fake) as workspace:
        await load_linked_company(workspace.app)
        yield workspace


def responses(fake: FakeSlackAPI, since: int = 0) -> list[dict[str, object]]:
    return [c.params for c in fake.calls[since:] if c.method == "response"]


# -- help in both languages; identity and locale ---------------------------------------------


async def test_help_answers_linked_users_in_their_language(slack_db: Workspace) -> None:
    s = slack_db
    ja = await s.command(HANAKO, "help")
    assert "できること" in ja and "/alumni profile" in ja  # as Slack users type it
    en = await s.command(EMMA, "help")
    assert "Here is what you can do" in en and "/invite" not in en
    # asked in their DM, answered there; users.info was asked for the locale, once each
    assert [p["channel"] for p in s.fake.posted()] == [f"D{HANAKO}", f"D{EMMA}"]
    infos = s.fake.to("users.info")
    assert sorted(c.params["user"] for c in infos) == [EMMA, HANAKO]
    assert all(str(c.params["include_locale"]).lower() in ("1", "true") for c in infos)
    # asked in a shared channel: answered only to them (ephemeral, through response_url)
    assert "Here is what you can do" in await s.command(EMMA, "help", channel="CGENERAL")
    assert len(responses(s.fake)) == 1 and len(s.fake.posted()) == 2
    assert responses(s.fake)[0]["response_type"] == "ephemeral"
    assert len(s.fake.to("users.info")) == 2  # cached
    # the imported identity got its workspace and Slack's locale
    async with s.app.db.transaction() as session:
        identity = (await session.scalars(select(Identity).where(Identity.user_id == HANAKO))).one()
        assert (identity.workspace, identity.locale_hint) == ("T0FAKE", "ja-JP")


async def test_guests_get_help_in_slacks_language(slack: Workspace) -> None:
    assert "アルムナイネットワークへようこそ" in await slack.command(STRANGER_JA, "")
    assert "Welcome to the alumni network" in await slack.command(STRANGER, "help")


async def test_configured_only_with_a_token(sqlite_url: str, fake: FakeSlackAPI) -> None:
    from bot.channels import configured_channels
    from bot.core.settings import SettingsError
    from bot.runtime.app import App
    from tests.conftest import make_settings

    app = App.build(make_settings(sqlite_url))
    assert [c.name for c in configured_channels(app)] == []
    await app.close()
    app = App.build(slack_settings(sqlite_url, fake, slack_signing_secret=None))
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        configured_channels(app)
    await app.close()


# -- every foundation route ------------------------------------------------------------------


async def test_join_consent_profile_modal_with_field_errors(slack_db: Workspace) -> None:
    s = slack_db
    hr_code = await s.command(SUZUKI, "invite taro@example.com")
    assert "[同意する]" in hr_code  # HR has not consented yet: consent comes first
    await s.press(SUZUKI, "同意する")
    await s.press(SUZUKI, "日本語")
    await s.press(SUZUKI, "Asia/Tokyo")
    answer = await s.command(SUZUKI, "invite taro@example.com")
    code = re.search(r"join ([A-Z2-9]{8})", answer)
    assert code, answer

    assert "佐藤 太郎" in await s.command(TARO, f"join {code.group(1)}")
    await s.press(TARO, "同意する")
    # the pressed button is marked on the original message (chat.update)
    updated = s.fake.to("chat.update")[-1].params
    assert "✓ 同意する" in json.dumps(updated["blocks"], ensure_ascii=False)
    await s.press(TARO, "English")
    assert "All set" in await s.press(TARO, "Asia/Tokyo")

    assert "Your profile" in await s.command(TARO, "profile")
    await s.press(TARO, "Edit profile")
    modal = s.last_modal()
    assert modal["type"] == "modal" and modal["submit"]["text"] == "Save"
    assert {b["block_id"] for b in modal["blocks"]} == {
        "skills",
        "desired_roles",
        "location",
        "comeback",
    }
    before = len(s.fake.calls)
    too_long = "; ".join(f"s{n}" for n in range(60))
    response = await s.submit(TARO, {"skills": too_long})
    assert response.json() == {
        "response_action": "errors",
        "errors": {"skills": "At most 50 items of up to 60 characters each."},
    }
    assert s.fake.posted()[-1] is not None and len(s.fake.calls) == before  # nothing sent
    response = await s.submit(TARO, {"location": "x" * 201})
    assert response.json()["errors"] == {"location": "At most 200 characters, please."}
    response = await s.submit(TARO, {"skills": "Go; Rust", "location": "Osaka"})
    assert response.status_code == 200 and response.content == b""  # the modal closes
    text = s.fake.texts(before)
    assert "Saved." in text and "Go, Rust" in text and "Osaka" in text
    async with s.app.db.transaction() as session:
        taro = await people.person_by_email(session, "taro@example.com")
        assert taro is not None and taro.skills == ["Go", "Rust"]


async def test_settings_modal_pause_forgetme(slack: Workspace) -> None:
    s = slack
    await s.onboard(EMMA)
    assert "Your settings" in await s.command(EMMA, "settings")
    await s.press(EMMA, "Edit settings")
    assert [b["element"]["type"] for b in s.last_modal()["blocks"]] == [
        "static_select",
        "plain_text_input",
        "timepicker",
        "timepicker",
        "static_select",
        "timepicker",  # the check-in time
        "static_select",  # fewer / normal / more job and perk messages
        "plain_text_input",  # whose holidays (optional)
        "datepicker",  # pause until (optional)
    ]
    response = await s.submit(EMMA, {"quiet_start": "25:99", "timezone": "Mars/Base"})
    errors = response.json()["errors"]  # every bad field at once, shown in the modal
    assert set(errors) == {"timezone", "quiet_start"}
    assert "Asia/Tokyo" in errors["timezone"] and "21:00" in errors["quiet_start"]
    response = await s.submit(EMMA, {"quiet_start": "", "timezone": "Europe/London"})
    assert set(response.json()["errors"]) == {"quiet_start"}
    response = await s.submit(EMMA, {"paused_until": "2020-01-01"})  # the date picker's past
    assert "not in the future" in response.json()["errors"]["paused_until"]
    response = await s.submit(EMMA, {"quiet_start": "22:00", "locale": "ja"})
    assert response.status_code == 200 and not response.content
    assert "設定を保存しました" in s.fake.texts(len(s.fake.calls) - 1)

    assert "一時停止しました" in await s.command(EMMA, "pause")
    assert "再開しました" in await s.command(EMMA, "pause")
    assert "[削除しない]" in await s.command(EMMA, "forgetme")
    assert "何も削除していません" in await s.press(EMMA, "削除しない")


async def test_private_replies_and_files_go_to_the_dm(slack: Workspace) -> None:
    s = slack
    await s.onboard(HANAKO, "同意する", "日本語")
    since = len(s.fake.calls)
    await s.command(HANAKO, "profile", channel="CGENERAL")
    shared = responses(s.fake, since)
    assert [s.fake.text_of(r["blocks"]) for r in shared] == ["個別メッセージでお送りしました。"]  # type: ignore[arg-type]
    dm = s.fake.posted(f"D{HANAKO}")[-1]
    assert "あなたのプロフィール" in s.fake.text_of(dm["blocks"])

    since = len(s.fake.calls)
    await s.command(HANAKO, "mydata", channel="CGENERAL")
    complete = s.fake.to("files.completeUploadExternal")[-1].params
    assert complete["channel_id"] == f"D{HANAKO}"
    upload = s.fake.to("upload")[-1].params
    data = json.loads(upload["bytes"])
    assert data["person"]["email"] == "hanako@example.com"
    assert all(c.params.get("channel") != "CGENERAL" for c in s.fake.calls[since:])


async def test_direct_messages_and_replayed_events(slack_db: Workspace) -> None:
    s = slack_db
    assert "Here is what you can do" in await s.dm(EMMA, "help", event_id="EvHelp1")
    assert s.fake.posted(f"D{EMMA}")
    count = len(s.fake.posted())
    # Slack retries (X-Slack-Retry-Num) and replays: processed once
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": f"D{EMMA}",
        "user": EMMA,
        "text": "help",
        "ts": "1.0",
    }
    assert (await s.event(event, "EvHelp1", retry=1)).status_code == 200
    assert (await s.event(event, "EvHelp1")).status_code == 200
    assert len(s.fake.posted()) == count
    async with s.app.db.transaction() as session:
        seen = await session.scalar(
            select(func.count()).select_from(InboxItem).where(InboxItem.key == "EvHelp1")
        )
        assert seen == 1
    # the bot's own messages and edits are not answered
    since = len(s.fake.calls)
    await s.event({**event, "bot_id": "BFAKE", "text": "hi"})
    await s.event({**event, "subtype": "message_changed"})
    await s.event({"type": "reaction_added", "user": EMMA})
    assert not s.fake.posted()[count:] and len(s.fake.calls) == since


async def test_a_form_asked_in_a_dm_goes_step_by_step(slack: Workspace) -> None:
    s = slack
    await s.onboard(EMMA)
    await s.dm(EMMA, "settings")
    # a DM message has no trigger id, but a button does: the edit button opens a modal
    await s.press(EMMA, "Edit settings")
    assert s.last_modal()["title"]["text"]


async def test_app_home(slack_db: Workspace, clock: FixedClock) -> None:
    s = slack_db
    now = clock.now()
    async with s.app.db.transaction() as session:
        hanako = await people.person_by_email(session, "hanako@example.com")
        taro = await people.person_by_email(session, "taro@example.com")
        assert hanako is not None and taro is not None
        hanako.next_checkin_at = now + timedelta(days=3)
        event = Event(
            uid="ev-1",
            title="Tokyo meetup",
            starts_at=now + timedelta(days=7),
            ends_at=now + timedelta(days=7, hours=2),
            timezone="Asia/Tokyo",
            place="Shibuya",
            segment="all",
        )
        past = Event(
            uid="ev-0",
            title="Old party",
            starts_at=now - timedelta(days=7),
            ends_at=now - timedelta(days=7),
            timezone="Asia/Tokyo",
        )
        opening = Opening(title="Sales lead", department="営業", location="東京", skills=[])
        session.add_all([event, past, opening])
        await session.flush()
        session.add(Rsvp(event_id=event.id, person_id=hanako.id, status="maybe"))
        session.add(Match(opening_id=opening.id, person_id=hanako.id, score=0.9, reason={}))
        a, b = sorted((hanako.id, taro.id))
        this_year = now.astimezone(UTC).date()
        for day, kind in (
            (this_year, "online"),
            (date(this_year.year, 1, 2), "in_person"),
            (date(this_year.year - 1, 12, 30), "online"),
        ):
            session.add(
                Interaction(person_a=a, person_b=b, kind=kind, occurred_on=day, source="log")
            )
    await s.onboard(HANAKO, "同意する", "日本語")
    view = await s.open_home(HANAKO)
    text = s.fake.text_of(view["blocks"])
    assert view["type"] == "home"
    assert "山田 花子さん、こんにちは" in text and "次のチェックイン" in text
    assert f"{this_year.year}年は元同僚と2回交流しました" in text
    assert "Tokyo meetup" in text and "Old party" not in text and "あなたの回答: 未定" in text
    assert "Sales lead (営業 / 東京)" in text
    assert "*人事*" not in text
    rsvp = [e for blk in view["blocks"] for e in blk.get("elements", [])]
    assert [e["value"] for e in rsvp] == [
        f"{event.id}:going",
        f"{event.id}:maybe",
        f"{event.id}:no",
    ]
    # events.rsvp is the events feature's; whatever it answers goes to the DM, and the
    # home is published again so it shows the new state
    published = len(s.fake.to("views.publish"))
    since = len(s.fake.calls)
    answer = await s.press(HANAKO, "参加")
    assert answer and "問題が発生しました" not in answer
    assert s.fake.posted(f"D{HANAKO}")[-1] in [c.params for c in s.fake.calls[since:]]
    assert len(s.fake.to("views.publish")) == published + 1

    await s.onboard(ADMIN)
    admin = s.fake.text_of((await s.open_home(ADMIN))["blocks"])
    assert "*HR*" in admin and "*Admin*" in admin and "1 open openings" in admin
    assert "Nothing planned yet" not in admin and "Tokyo meetup" in admin


async def test_home_for_people_who_have_not_joined(slack: Workspace) -> None:
    view = await slack.open_home(STRANGER)
    assert "Please join first" in slack.fake.text_of(view["blocks"])
    since = len(slack.fake.calls)
    messages_tab = {"type": "app_home_opened", "user": STRANGER, "tab": "messages"}
    assert (await slack.event(messages_tab)).status_code == 200
    assert not slack.fake.to("views.publish")[1:] and len(slack.fake.calls) == since


# -- bad input --------------------------------------------------------------------------------


async def test_unsigned_tampered_and_stale_requests_get_401(slack: Workspace) -> None:
    s = slack
    body = urlencode(
        {
            "command": "/alumni",
            "text": "help",
            "user_id": EMMA,
            "team_id": "T0FAKE",
            "channel_id": f"D{EMMA}",
            "response_url": s.fake.response_url("x"),
        }
    ).encode()
    since = len(s.fake.calls)
    assert (await s.post(body, signed=False)).status_code == 401
    from tests.support.slack_workspace import signature

    headers = signature(body, int(__import__("time").time()))
    tampered = body.replace(b"help", b"pause")
    response = await s.client.post("/slack/events", content=tampered, headers=headers)
    assert response.status_code == 401
    wrong = signature(body, int(__import__("time").time()), secret="not-the-secret")
    assert (await s.post(body, signed=False, headers=wrong)).status_code == 401
    assert (await s.post(body, age=6 * 60)).status_code == 401
    assert len(s.fake.calls) == since  # nothing processed, nobody looked up
    async with s.app.db.transaction() as session:
        assert not (
            await session.scalars(
                select(Identity).where(Identity.user_id == EMMA, Identity.workspace != "")
            )
        ).all()


async def test_malformed_bodies(slack: Workspace) -> None:
    s = slack
    since = len(s.fake.calls)
    assert (await s.post(b'{"type": "event_callback", ', "application/json")).status_code == 400
    assert (await s.post(b'{"broken', "application/json", signed=False)).status_code == 401
    assert (await s.post(b"[1, 2]", "application/json")).status_code == 400
    assert (await s.post(b"payload=%7Bnot-json")).status_code == 400
    assert (await s.post(b"\xff\xfe\x00garbage")).status_code == 400
    assert (await s.post(b"\xff\xfe\x00garbage", signed=False)).status_code == 401
    # well-formed but nothing we know: no listener, nothing sent
    assert (await s.post(b"foo=bar")).status_code == 404
    no_view_type = {
        "type": "view_submission",
        "user": {"id": EMMA},
        "view": {"callback_id": "alumni.form", "private_metadata": "{"},
    }
    assert (await s.interact(no_view_type)).status_code == 400
    bad_metadata = {**no_view_type, "view": {**no_view_type["view"], "type": "modal"}}  # type: ignore[dict-item]
    assert (await s.interact(bad_metadata)).status_code == 200  # acknowledged, nothing done
    assert (
        await s.interact({"type": "block_actions", "user": {"id": EMMA}, "actions": "nope"})
    ).status_code == 400
    no_event = {"type": "event_callback", "event_id": "Ev1", "event": ["x"]}
    assert (await s.post(json.dumps(no_event).encode(), "application/json")).status_code == 400
    # Bolt's own auth.test on its first request is all that reached Slack
    assert {c.method for c in s.fake.calls[since:]} <= {"auth.test"}


async def test_unknown_actions_and_unlinked_users(slack: Workspace) -> None:
    s = slack
    await s.onboard(EMMA)
    where = {
        "kind": "message",
        "channel": f"D{EMMA}",
        "ts": s.fake.posted()[-1]["_ts"],
        "blocks": [],
        "text": "",
    }
    bogus = {
        "type": "button",
        "action_id": "no.such.action#1",
        "value": "x",
        "text": {"type": "plain_text", "text": "?"},
    }
    assert "This button has expired" in await s.press_element(EMMA, bogus, where)
    no_hash = {**bogus, "action_id": "x" * 255}
    assert "This button has expired" in await s.press_element(EMMA, no_hash, where)
    # a stranger pressing a member's button is told to join, and nothing changes
    edit = {
        "type": "button",
        "action_id": "profile.edit#1",
        "value": "-",
        "text": {"type": "plain_text", "text": "Edit profile"},
    }
    stranger = {"kind": "ephemeral", "channel": f"D{STRANGER}", "blocks": []}
    assert "Please join first" in await s.press_element(STRANGER, edit, stranger)
    assert not s.fake.to("views.open")


async def test_a_button_on_a_message_everyone_in_a_channel_sees_acts_for_nobody(
    slack: Workspace,
) -> None:
    s = slack
    await s.onboard(EMMA)
    edit = {
        "type": "button",
        "action_id": "profile.edit#1",
        "value": "-",
        "text": {"type": "plain_text", "text": "Edit profile"},
    }
    shared = {"kind": "message", "channel": "CGENERAL", "ts": "1.000001", "blocks": [], "text": ""}
    assert "meant for someone else" in await s.press_element(EMMA, edit, shared)
    assert not s.fake.to("views.open")
    ephemeral = {"kind": "ephemeral", "channel": "CGENERAL", "blocks": []}
    await s.press_element(EMMA, edit, ephemeral)  # only she saw this one
    assert s.fake.to("views.open")


async def test_an_answer_slack_refuses_for_a_while_goes_to_the_outbox_and_arrives(
    slack: Workspace, clock: FixedClock
) -> None:
    s = slack
    await s.onboard(EMMA)
    s.fake.rate_limit("chat.postMessage", 30)
    since = len(s.fake.posted(f"D{EMMA}"))
    await s.dm(EMMA, "help")
    async with s.app.db.transaction() as session:
        queued = (await session.scalars(select(OutboxMessage))).one()
    assert (queued.kind, queued.recipient) == ("answer", f"D{EMMA}")
    assert queued.not_before == clock.now() + timedelta(seconds=30)  # Slack's Retry-After
    clock.advance(seconds=30)
    worker = Worker(s.app, {"slack": s.channel}, sleep=VirtualSleep(clock))
    assert (await worker.run(drain=True)).sent == 1
    refused, delivered = s.fake.posted(f"D{EMMA}")[since:]
    assert delivered["blocks"] == refused["blocks"] and "Here is what you can do" in str(
        delivered["blocks"]
    )


async def test_the_log_modal_opens_with_a_date_slack_accepts(
    slack: Workspace, clock: FixedClock
) -> None:
    """`/alumni log` with no name: a modal whose date picker starts at today, as YYYY-MM-DD
    (the fake refuses "今日" as Slack does, and then no modal opens)."""
    s = slack
    await s.onboard(EMMA)
    await s.command(EMMA, "log")
    modal = s.last_modal()
    dates = [
        b["element"] for b in modal["blocks"] if b.get("element", {}).get("type") == "datepicker"
    ]
    assert [d.get("initial_date") for d in dates] == [clock.now().date().isoformat()]


async def test_a_4000_character_command(slack: Workspace) -> None:
    s = slack
    answer = await s.command(EMMA, "x" * 4000)
    assert "I didn't understand that" in answer
    answer = await s.command(EMMA, "help " + "あ" * 3995)
    assert "Here is what you can do" in answer
    assert "too long" in await s.command(EMMA, "y" * 4100)
    assert all(not block_errors(r["blocks"], 50) for r in responses(s.fake))


async def test_url_verification_and_ssl_check(slack: Workspace) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
    response = await slack.post(body.encode(), "application/json")
    assert response.status_code == 200 and response.json() == {"challenge": "abc123"}


# -- sending, limits and rate limits ----------------------------------------------------------


async def test_interactive_replies_wait_out_a_429(slack: Workspace) -> None:
    s = slack
    s.fake.rate_limit("chat.postMessage", retry_after=0)
    assert "Here is what you can do" in await s.dm(EMMA, "help")
    statuses = [c.method for c in s.fake.calls if c.method == "chat.postMessage"]
    assert len(statuses) == 2  # the 429, then the retry


async def test_send_maps_slack_errors_for_delivery(slack: Workspace) -> None:
    s, ch = slack, slack.channel
    to = Recipient("slack", "T0FAKE", EMMA)
    assert await ch.send(to, Reply("hello")) == f"D{EMMA}"
    s.fake.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(RateLimited) as limited:
        await ch.send(to, Reply("hello"))
    assert limited.value.retry_after == 7
    with pytest.raises(Unreachable, match="user_not_found"):
        await ch.send(Recipient("slack", "T0FAKE", "UNOBODY"), Reply("hello"))
    s.fake.fail_next("chat.postMessage", "account_inactive")
    with pytest.raises(Unreachable):
        await ch.send(to, Reply("hello"))
    s.fake.fail_next("chat.postMessage", "internal_error", status=503)
    with pytest.raises(TransientError):
        await ch.send(to, Reply("hello"))
    s.fake.fail_next("chat.postMessage", "invalid_arguments")
    with pytest.raises(DeliveryError):
        await ch.send(to, Reply("hello"))
    port = s.fake.port
    await s.fake.close()
    with pytest.raises(TransientError):
        await ch.send(Recipient("slack", "T0FAKE", EMMA, chat_id=f"D{EMMA}"), Reply("x"))
    assert port


async def test_long_replies_are_split_within_block_kit_limits(slack: Workspace) -> None:
    s = slack
    text = "\n".join(f"<!channel> line {n} & " + "長" * 120 for n in range(1500))
    buttons = tuple((Button("L" * 100, "profile.edit", str(n)),) for n in range(30))
    chat = await s.channel.send(Recipient("slack", "T0FAKE", EMMA), Reply(text, buttons=buttons))
    posts = s.fake.posted(chat)
    assert len(posts) == 3  # 75 sections and 30 buttons; the fake checked every limit
    assert all(len(p["blocks"]) <= 50 for p in posts)
    blocks = [b for p in posts for b in p["blocks"]]
    assert "<!channel>" not in json.dumps(blocks) and "&lt;!channel&gt;" in json.dumps(blocks)
    labels = [e["text"]["text"] for b in blocks for e in b.get("elements", [])]
    assert len(labels) == 30 and all(len(label) <= 75 for label in labels)
    ids = [e["action_id"] for b in blocks for e in b.get("elements", [])]
    assert len(set(ids)) == 30 and render.parse_action_id(ids[0]) == "profile.edit"
    shown = "".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert shown.count("line ") == 1500


async def test_files_are_uploaded(slack: Workspace) -> None:
    s = slack
    reply = Reply("chart", attachment=Attachment("c.png", b"\x89PNG", "image/png", True))
    await s.channel.send(Recipient("slack", "T0FAKE", EMMA), reply)
    assert s.fake.to("upload")[-1].params["bytes"] == b"\x89PNG"
    assert s.fake.to("files.completeUploadExternal")[-1].params["channel_id"] == f"D{EMMA}"


def test_the_manifest_names_what_the_channel_serves() -> None:
    from pathlib import Path

    from bot.channels.slack.channel import PATH

    text = (Path(__file__).parent.parent / "config" / "slack_manifest.yml").read_text()
    assert text.count(f"https://alumni.example.com{PATH}") == 3
    for needed in (
        "command: /alumni",
        "- app_home_opened",
        "- message.im",
        "home_tab_enabled: true",
        "users:read",
        "files:write",
        "im:history",
        "chat:write",
    ):
        assert needed in text, needed
    # Every event the channel listens for by name is one Slack is asked to send.
    import re

    from bot.channels.slack import channel

    source = Path(channel.__file__).read_text(encoding="utf-8")
    listened = set(re.findall(r'bolt\.event\("(\w+)"\)', source))
    assert listened >= {"app_uninstalled", "tokens_revoked"}
    events = text.split("bot_events:", 1)[1].split("interactivity:", 1)[0]
    assert {e for e in listened if f"- {e}" not in events} == set()
    assert f"https://alumni.example.com{channel.REDIRECT_PATH}" in text


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": "v0=00"},
        {"X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": str(int(time.time()))},
    ],
)
async def test_malformed_signature_headers_get_401_not_500(
    slack: Workspace, headers: dict[str, str]
) -> None:
    body = b"command=%2Falumni&text=invite&user_id=U1&team_id=T1"
    assert (await slack.post(body, signed=False, headers=headers)).status_code == 401


@pytest.mark.parametrize("form", [False, True])
async def test_deeply_nested_json_gets_400_not_500(slack: Workspace, form: bool) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    if form:
        body, kind = urlencode({"payload": nested}).encode(), "application/x-www-form-urlencoded"
    else:
        body, kind = (
            ('{"type": "event_callback", "event": ' + nested + "}").encode(),
            "application/json",
        )
    assert (await slack.post(body, kind)).status_code == 400


async def test_a_replayed_signed_request_is_not_processed_again(slack_db: Workspace) -> None:
    """A valid signature replayed inside Slack's 5-minute window: 10 replays, one invite (and
    the one asked for before agreeing, carried out once onboarding ended)."""
    s = slack_db
    assert "[同意する]" in await s.command(SUZUKI, "invite taro@example.com")
    await s.press(SUZUKI, "同意する")
    await s.press(SUZUKI, "日本語")
    assert "招待コード" in await s.press(SUZUKI, "Asia/Tokyo")
    form = {
        "command": "/alumni", "text": "invite taro@example.com", "user_id": SUZUKI,
        "team_id": s.team, "channel_id": f"D{SUZUKI}", "trigger_id": "trigger-replayed",
        "response_url": s.fake.response_url("replayed"),
    }  # fmt: skip
    body = urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers |= signature(body, int(time.time()))
    for _ in range(11):
        response = await s.client.post("/slack/events", content=body, headers=headers)
        await s.channel.idle()
        assert response.status_code == 200
    async with s.app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Invite)) == 2


async def test_a_replayed_modal_submission_is_acted_on_once(slack: Workspace) -> None:
    """A submission is acted on before its acknowledgement, so its signature is checked on its
    own (what is recorded has the signature for its inbox key): a captured submission sent
    again after a later edit does not undo that edit."""
    s = slack
    await s.command(SUZUKI, "profile")
    await s.press(SUZUKI, "同意する")
    await s.press(SUZUKI, "日本語")
    await s.press(SUZUKI, "Asia/Tokyo")
    await s.command(SUZUKI, "profile")
    await s.press(SUZUKI, "プロフィールを編集")
    body = urlencode({"payload": json.dumps(s.submission(SUZUKI, {"skills": "Go; Rust"}))})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers |= signature(body.encode(), int(time.time()))
    first = await s.client.post("/slack/events", content=body, headers=headers)
    await s.channel.idle()
    assert first.status_code == 200 and "保存しました。" in s.fake.texts(0)
    await s.submit(SUZUKI, {"skills": "Python"})
    replayed = await s.client.post("/slack/events", content=body, headers=headers)
    await s.channel.idle()
    assert replayed.status_code == 200
    async with s.app.db.sessions() as session:
        suzuki = await people.person_by_email(session, "hr@example.com")
        assert suzuki is not None and suzuki.skills == ["Python"]


async def test_replays_sent_at_the_same_moment_are_processed_once(slack_db: Workspace) -> None:
    """The signatures of concurrent requests are kept in one shared write: of 10 copies of
    one signed request arriving together, one is handled (one invite) and all get a 200."""
    s = slack_db
    assert "[同意する]" in await s.command(SUZUKI, "invite taro@example.com")
    await s.press(SUZUKI, "同意する")
    await s.press(SUZUKI, "日本語")
    assert "招待コード" in await s.press(SUZUKI, "Asia/Tokyo")
    form = {
        "command": "/alumni", "text": "invite taro@example.com", "user_id": SUZUKI,
        "team_id": s.team, "channel_id": f"D{SUZUKI}", "trigger_id": "trigger-together",
        "response_url": s.fake.response_url("together"),
    }  # fmt: skip
    body = urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers |= signature(body, int(time.time()))
    responses = await asyncio.gather(
        *(s.client.post("/slack/events", content=body, headers=headers) for _ in range(10))
    )
    await s.channel.idle()
    assert [r.status_code for r in responses] == [200] * 10
    async with s.app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Invite)) == 2
