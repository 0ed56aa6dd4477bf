"""One bot across the company workspace, an alumni workspace (installed by OAuth) and Telegram:
the real `serve` app against the fake Slack API serving two workspaces and the fake Bot API,
requests signed for real, proactive messages delivered by the real worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels import configured_channels
from bot.channels.slack.channel import SlackChannel
from bot.channels.slack.tables import slack_bots
from bot.channels.telegram.channel import TelegramChannel
from bot.core.channel import Channel
from bot.core.clock import FixedClock
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from bot.runtime.web import build_web_app
from storage import importer, invites, people
from storage.models import Identity, Interaction, Invite, OutboxMessage, Person
from tests.conftest import make_settings
from tests.fakes.fake_channel import VirtualSleep
from tests.fakes.slack_api import TEAM, TOKEN, FakeSlackAPI
from tests.fakes.telegram_api import TOKEN as TG_TOKEN
from tests.fakes.telegram_api import FakeTelegramAPI, TgUser
from tests.support.slack_workspace import SECRET, Workspace, add_users, load_linked_company
from tests.test_telegram import SECRET as TG_SECRET
from tests.test_telegram import USERNAME, Served

ALUMNI, ALUMNI_TOKEN = "T0ALUMNI", "xoxb-2-alumni-token"
STRANGE, STRANGE_TOKEN = "T0STRANGE", "xoxb-3-strange-token"  # installs; not trusted
HANAKO_A, EMMA_A, NEWCOMER_A = "UAHANAKO", "UAEMMA", "UANEW"  # in the alumni workspace
HANAKO_TG = TgUser(7001, "花子", "ja")
EMMA_TG = TgUser(7002, "Emma", "en")
JIRO = "UJIRO"  # an employee about to leave, in the company workspace
INVITE_URL = "https://join.slack.com/t/alumni/shared_invite/xyz"


@dataclass
class Places:
    app: App
    slack: FakeSlackAPI
    tg: FakeTelegramAPI
    company: Workspace
    alumni: Workspace
    telegram: Served
    channels: list[Channel]

    async def deliver(self) -> Worker:
        assert isinstance(self.app.clock, FixedClock)
        worker = Worker(
            self.app, {c.name: c for c in self.channels}, sleep=VirtualSleep(self.app.clock)
        )
        await worker.run(drain=True)
        return worker

    async def install_alumni(self) -> httpx.Response:
        """An admin of the alumni workspace installs the app: /slack/install, Slack's consent
        page (the fake grants a code), then /slack/oauth_redirect with the state."""
        state, cookie = await start_install(self.company.client)
        self.slack.grant_code("code-1", ALUMNI_TOKEN)
        return await self.company.client.get(
            f"/slack/oauth_redirect?code=code-1&state={state}", headers={"Cookie": cookie}
        )

    async def code_for(self, email: str) -> str:
        async with self.app.db.transaction() as session:
            person = await people.person_by_email(session, email)
            assert person is not None
            now = self.app.clock.now()
            return (
                await invites.create(session, person=person, created_by=None, now=now, days=7)
            ).code


async def start_install(client: httpx.AsyncClient) -> tuple[str, str]:
    response = await client.get("/slack/install")
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"].split(";")[0]
    state = cookie.split("=", 1)[1]
    link = next(part for part in response.text.split('"') if "oauth/v2/authorize" in part)
    assert parse_qs(urlparse(link.replace("&amp;", "&")).query)["state"] == [state]
    return state, cookie


@asynccontextmanager
async def serving(database_url: str, clock: FixedClock) -> AsyncIterator[Places]:
    slack, tg = FakeSlackAPI(), FakeTelegramAPI()
    await slack.start()
    await tg.start()
    slack.add_team(ALUMNI, ALUMNI_TOKEN, "Alumni Club")
    add_users(slack)
    for user, name, locale in ((HANAKO_A, "花子", "ja-JP"), (EMMA_A, "Emma", "en-GB"),
                               (NEWCOMER_A, "New", "en-US")):  # fmt: skip
        slack.add_user(user, name, locale, team=ALUMNI)
    slack.add_user(JIRO, "次郎", "ja-JP")
    settings = make_settings(
        database_url,
        slack_bot_token=TOKEN,  # the company workspace, as before
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        slack_client_id="111.222",  # and any other workspace by OAuth
        slack_client_secret="client-secret",
        slack_trusted_teams=[TEAM, ALUMNI],  # the operator trusts its own two workspaces
        telegram_bot_token=TG_TOKEN,
        telegram_api_url=tg.api_url,
        telegram_webhook_secret=TG_SECRET,
        telegram_bot_username=USERNAME,
        alumni_workspace_invite_url=INVITE_URL,
    )
    app = App.build(settings, clock)
    await app.prepare()
    channels = configured_channels(app)
    slack_channel, tg_channel = channels
    assert isinstance(slack_channel, SlackChannel) and isinstance(tg_channel, TelegramChannel)
    web = build_web_app(app, channels)
    try:
        async with web.router.lifespan_context(web):
            transport = httpx.ASGITransport(app=web)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
                yield Places(
                    app, slack, tg,
                    Workspace(app, slack, client, slack_channel),
                    Workspace(app, slack, client, slack_channel, team=ALUMNI),
                    Served(app, tg, client, tg_channel),
                    channels,
                )  # fmt: skip
    finally:
        await app.close()
        await slack.close()
        await tg.close()


@pytest.fixture
async def places(sqlite_url: str, clock: FixedClock) -> AsyncIterator[Places]:
    async with serving(sqlite_url, clock) as p:
        await load_linked_company(p.app)
        yield p


async def join_slack(p: Places, ws: Workspace, user: str, email: str, first: bool) -> str:
    answer = await ws.command(user, f"join {await p.code_for(email)}")
    if first:
        await ws.press(user, "I agree" if "agree" in answer else "同意する")
        await ws.press(user, "English")
        await ws.press(user, "Asia/Tokyo")
    return answer


async def join_telegram(p: Places, user: TgUser, email: str) -> str:
    return await p.telegram.say(user, f"/start {await p.code_for(email)}")


async def identities_of(app: App, email: str) -> list[Identity]:
    async with app.db.transaction() as session:
        person = await people.person_by_email(session, email)
        assert person is not None
        rows = await session.scalars(select(Identity).where(Identity.person_id == person.id))
        return sorted(rows, key=lambda i: (i.channel, i.workspace))


# -- installation ------------------------------------------------------------------------------


async def test_install_by_oauth_then_uninstall_and_bad_states(
    database_url: str, clock: FixedClock
) -> None:
    async with serving(database_url, clock) as p:
        await load_linked_company(p.app)
        # Not installed yet: the alumni workspace's command is ignored, nothing processed.
        before = len(p.slack.to("chat.postMessage"))
        await p.alumni.command(NEWCOMER_A, "help")
        assert len(p.slack.to("chat.postMessage")) == before

        response = await p.install_alumni()
        assert response.status_code == 200, response.text
        async with p.app.db.transaction() as session:
            rows = (
                await session.execute(select(slack_bots.c.team_id, slack_bots.c.bot_token))
            ).all()
        assert [tuple(r) for r in rows] == [(ALUMNI, ALUMNI_TOKEN)]
        # Now it answers there, with that workspace's token (the fake finds the user only so).
        assert "join" in await p.alumni.command(NEWCOMER_A, "help")
        assert p.slack.posted(f"D{NEWCOMER_A}")

        # A replayed state and a made-up one are refused; nothing more is installed.
        state, cookie = await start_install(p.company.client)
        p.slack.grant_code("code-2", ALUMNI_TOKEN)
        url = f"/slack/oauth_redirect?code=code-2&state={state}"
        assert (await p.company.client.get(url, headers={"Cookie": cookie})).status_code == 200
        p.slack.grant_code("code-3", ALUMNI_TOKEN)
        replay = f"/slack/oauth_redirect?code=code-3&state={state}"
        assert (await p.company.client.get(replay, headers={"Cookie": cookie})).status_code == 401
        forged = "/slack/oauth_redirect?code=code-3&state=not-ours"
        wrong = await p.company.client.get(forged, headers={"Cookie": "slack-app-oauth-state=x"})
        assert wrong.status_code in (400, 401)
        assert "code-3" in p.slack.codes  # never traded

        # Emma joins there, then the workspace removes the app.
        await join_slack(p, p.alumni, EMMA_A, "emma@example.com", first=True)
        event = {"type": "app_uninstalled"}
        assert (await p.alumni.event(event)).status_code == 200
        async with p.app.db.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(slack_bots)) == 0
        (emma,) = [i for i in await identities_of(p.app, "emma@example.com") if i.workspace]
        assert (emma.workspace, emma.reachable, emma.unreachable_reason) == (
            ALUMNI, False, "app_uninstalled"
        )  # fmt: skip
        before = len(p.slack.calls)
        await p.alumni.command(EMMA_A, "help")
        assert not [c for c in p.slack.calls[before:] if c.method == "chat.postMessage"]
        # The company workspace (SLACK_BOT_TOKEN) is untouched.
        assert "profile" in await p.company.command("UHANAKO", "help")


async def test_an_event_from_a_workspace_that_never_installed_us_is_ignored(
    places: Places,
) -> None:
    p = places
    stranger = Workspace(p.app, p.slack, p.company.client, p.company.channel, team="T0NEVER")
    p.slack.add_user("UNEVER", "Never", team="T0NEVER")
    before = len(p.slack.calls)
    await stranger.command("UNEVER", "help")
    response = await stranger.dm("UNEVER", "help")
    assert not [c for c in p.slack.calls[before:] if c.method == "chat.postMessage"]
    assert response == ""
    async with p.app.db.transaction() as session:
        assert not (
            await session.scalars(select(Identity).where(Identity.user_id == "UNEVER"))
        ).all()
    # An unsigned request never gets that far.
    unsigned = await p.company.post(b"command=/alumni&text=help&team_id=T0NEVER", signed=False)
    assert unsigned.status_code == 401


# -- one person, three places --------------------------------------------------------------------


async def test_one_person_three_identities_choice_and_fallbacks(places: Places) -> None:
    p = places
    assert (await p.install_alumni()).status_code == 200
    await p.company.onboard("UHANAKO", agree="同意する", language="日本語")
    assert "連携" in await join_slack(p, p.alumni, HANAKO_A, "hanako@example.com", first=False)
    await join_telegram(p, HANAKO_TG, "hanako@example.com")
    found = await identities_of(p.app, "hanako@example.com")
    assert [(i.channel, i.workspace) for i in found] == [
        ("slack", ALUMNI), ("slack", TEAM), ("telegram", "")
    ]  # fmt: skip
    async with p.app.db.transaction() as session:
        count = select(func.count()).select_from(Person).where(Person.email == "hanako@example.com")
        assert await session.scalar(count) == 1

    profile = await p.alumni.command(HANAKO_A, "profile")
    assert "Slack・Alumni Club" in profile and "Telegram" in profile and "★" in profile
    chose = await p.alumni.press(HANAKO_A, "Telegram に連絡")
    assert "Telegram" in chose

    async def notice(tag: str) -> None:
        async with p.app.db.transaction() as session:
            from bot.core.types import Reply
            from storage.outbox import enqueue

            person = await people.person_by_email(session, "hanako@example.com")
            assert person is not None
            await enqueue(session, person_id=person.id, reply=Reply(f"notice {tag}"),
                          key=f"t:{tag}", kind="notice", now=p.app.clock.now())  # fmt: skip
        await p.deliver()

    await notice("1")
    assert "notice 1" in p.tg.texts(HANAKO_TG.id)
    # She blocks the bot on Telegram: the next goes to the next place, Telegram is marked.
    p.tg.blocked.add(HANAKO_TG.id)
    p.tg.started.discard(HANAKO_TG.id)
    await notice("2")
    got = [m["text"] for m in p.slack.posted() if m.get("text") == "notice 2"]
    assert len(got) == 1
    # The alumni workspace deactivated her: the company workspace is last.
    p.slack.fail_next("chat.postMessage", "account_inactive")
    await notice("3")
    now = {(i.channel, i.workspace): i for i in await identities_of(p.app, "hanako@example.com")}
    assert not now[("telegram", "")].reachable
    assert now[("slack", TEAM)].reachable
    delivered = [m for m in p.slack.posted("DUHANAKO") if m.get("text") == "notice 3"]
    assert len(delivered) == 1
    # She unblocks the bot and writes to it: Telegram, her choice, works again.
    p.tg.blocked.discard(HANAKO_TG.id)
    await p.telegram.say(HANAKO_TG, "/help")
    await notice("4")
    assert "notice 4" in p.tg.texts(HANAKO_TG.id)


# -- bridged intros ------------------------------------------------------------------------------


async def test_bridged_intro_round_trip(places: Places) -> None:
    p = places
    assert (await p.install_alumni()).status_code == 200
    await join_slack(p, p.company, "UTARO", "taro@example.com", first=True)  # the manager
    await join_telegram(p, HANAKO_TG, "hanako@example.com")  # the alumna, on Telegram only
    for label in ("同意する", "日本語", "Asia/Tokyo"):
        await p.telegram.press(HANAKO_TG, label)

    shown = await p.telegram.say(HANAKO_TG, "/checkin")
    assert "佐藤 太郎" in shown
    assert "送りました" in await p.telegram.press(HANAKO_TG, "佐藤 太郎") or True
    await p.deliver()
    intro = [m for m in p.slack.posted("DUTARO") if "山田 花子" in str(m.get("blocks"))]
    assert intro, "the hello reached the manager in the company workspace"
    labels = p.slack.text_of(intro[-1]["blocks"])
    assert "[Reply]" in labels and "[Let's meet]" in labels and "[Log that we talked]" in labels

    # He answers in words (a modal in Slack); the answer travels back to her on Telegram.
    await p.company.press("UTARO", "Reply")
    assert (await p.company.submit("UTARO", {"text": "Great to hear from you!"})).status_code == 200
    await p.company.press("UTARO", "Let's meet")
    await p.deliver()
    texts = "\n".join(p.tg.texts(HANAKO_TG.id))
    assert "Great to hear from you!" in texts and "会いたい" in texts

    # Both log the talk: one interaction.
    await p.company.press("UTARO", "Log that we talked")
    await p.telegram.press(HANAKO_TG, "話したことを記録")
    async with p.app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Interaction)) == 1


# -- offboarding -------------------------------------------------------------------------------


async def test_offboarding_hand_over_by_command_and_by_import(places: Places) -> None:
    p = places
    csv = (
        "email,name,name_kana,department,title,joined_on,left_on,join_route,leave_reason,"
        "skills,location,locale,timezone,slack_user_id,telegram_user_id\n"
        f"jiro@example.com,田中 次郎,,営業,,2020-04-01,,mid_career,,,,ja,Asia/Tokyo,{JIRO},\n"
        "ken@example.com,Ken Ito,,営業,,2021-04-01,,mid_career,,,,en,Asia/Tokyo,UKEN,\n"
        "mika@example.com,木村 美香,,営業,,2019-04-01,,mid_career,,,,ja,Asia/Tokyo,,\n"
    )
    relations = (
        "email,other_email,kind\njiro@example.com,taro@example.com,manager\n"
        "mika@example.com,taro@example.com,manager\n"
    )
    now = p.app.clock.now()
    async with p.app.db.transaction() as session:
        await importer.import_people(session, csv.encode(), now)
        await importer.import_relations(session, relations.encode(), now)
    await join_slack(p, p.company, "UTARO", "taro@example.com", first=True)
    await p.company.onboard(JIRO, agree="同意する", language="日本語")
    await p.company.onboard("USUZUKI", agree="同意する", language="日本語")

    bad = await p.company.command("USUZUKI", "offboard jiro@example.com 2026-13-40")
    assert "日付" in bad
    assert "offboard" in await p.company.command("USUZUKI", "offboard jiro@example.com")
    done = await p.company.command("USUZUKI", "offboard jiro@example.com 2026-12-31")
    assert "田中 次郎" in done
    again = await p.company.command("USUZUKI", "offboard jiro@example.com 2026-12-31")
    assert "すでに" in again
    await p.deliver()
    guide = p.slack.texts()
    assert "exit conversation" in guide and "welcome back" in guide  # Taro reads English
    jiro = "\n".join(p.slack.text_of(m["blocks"]) for m in p.slack.posted(f"D{JIRO}"))
    assert f"https://t.me/{USERNAME}?start=" in jiro and INVITE_URL in jiro
    async with p.app.db.transaction() as session:
        kinds = await session.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.kind == "offboarding")
        )
        assert len(list(kinds)) == 2  # one guide, one invitation: twice sends once
        person = await people.person_by_email(session, "jiro@example.com")
        assert person is not None
        code = await session.scalar(select(Invite).where(Invite.person_id == person.id))
        assert code is not None and code.code in jiro
        assert code.code in done  # HR sees the code too

    # Mika has no chat the bot can reach: HR is told so, with the code to hand over, and her
    # manager is not told "the bot has sent them an invitation".
    unreached = await p.company.command("USUZUKI", "offboard mika@example.com 2026-12-31")
    assert "直接お渡しください" in unreached
    async with p.app.db.transaction() as session:
        mika = await people.person_by_email(session, "mika@example.com")
        assert mika is not None
        mika_code = await session.scalar(select(Invite).where(Invite.person_id == mika.id))
    assert mika_code is not None and mika_code.code in unreached
    since = len(p.slack.calls)
    await p.deliver()
    assert "cannot reach them on any chat yet" in p.slack.texts(since)

    # He joins from Telegram with his code: the same person, not a new one.
    assert "連携" in await p.telegram.say(TgUser(7009, "次郎", "ja"), f"/start {code.code}")
    assert len(await identities_of(p.app, "jiro@example.com")) == 2

    # `import people` setting left_on starts the same hand-over.
    leaving = csv.replace("2021-04-01,,", "2021-04-01,2027-01-31,")
    async with p.app.db.transaction() as session:
        result = await importer.import_people(session, leaving.encode(), now)
    assert len(result.newly_left) == 1
    from handlers import bridge

    async with p.app.db.transaction() as session:
        n = await bridge.after_import(
            session, p.app.catalogs, p.app.settings, result.newly_left, now
        )
    assert n == 1


# -- bad input and security -----------------------------------------------------------------------


async def test_someone_elses_invite_and_hr_commands_from_the_alumni_workspace(
    places: Places,
) -> None:
    p = places
    assert (await p.install_alumni()).status_code == 200
    await join_slack(p, p.alumni, HANAKO_A, "hanako@example.com", first=True)
    # Another person uses an invite meant for Hanako, from the same workspace: refused.
    taken = await p.alumni.command(NEWCOMER_A, f"join {await p.code_for('hanako@example.com')}")
    assert "already" in taken or "すでに" in taken
    async with p.app.db.transaction() as session:
        who = await session.scalar(select(Identity).where(Identity.user_id == NEWCOMER_A))
        assert who is not None and who.person_id is None
    # Hanako (an alumna) tries HR commands from the alumni workspace: refused, nothing changed.
    for command in ("offboard taro@example.com 2026-12-31", "reach"):
        assert "HR" in await p.alumni.command(HANAKO_A, command)
    async with p.app.db.transaction() as session:
        taro = await people.person_by_email(session, "taro@example.com")
        assert taro is not None and taro.left_on is None
    # HR is HR wherever they write from: Suzuki on Telegram.
    suzuki = TgUser(7003, "鈴木", "ja")
    await join_telegram(p, suzuki, "hr@example.com")
    for label in ("同意する", "日本語", "Asia/Tokyo"):
        await p.telegram.press(suzuki, label)
    assert "アルムナイ" in await p.telegram.say(suzuki, "/reach")


async def test_a_token_revoked_mid_broadcast(places: Places) -> None:
    p = places
    assert (await p.install_alumni()).status_code == 200
    await join_slack(p, p.alumni, HANAKO_A, "hanako@example.com", first=True)
    await join_slack(p, p.alumni, EMMA_A, "emma@example.com", first=True)
    await join_telegram(p, EMMA_TG, "emma@example.com")  # Emma is on Telegram too
    from bot.core.types import Reply
    from storage.outbox import enqueue

    async with p.app.db.transaction() as session:  # someone only in the alumni workspace
        shared = await invites.create(session, person=None, created_by=None,
                                      now=p.app.clock.now(), days=1, max_uses=5)  # fmt: skip
    await p.alumni.command(NEWCOMER_A, f"join {shared.code}")
    for label in ("I agree", "English", "Asia/Tokyo"):
        await p.alumni.press(NEWCOMER_A, label)
    assert isinstance(p.app.clock, FixedClock)
    p.app.clock.advance(hours=6)  # 09:00 in London: nobody's quiet hours
    async with p.app.db.transaction() as session:
        newcomer = await session.scalar(select(Identity).where(Identity.user_id == NEWCOMER_A))
        assert newcomer is not None and newcomer.person_id is not None
        alumna = await session.get(Person, newcomer.person_id)
        assert alumna is not None
        alumna.left_on = date(2025, 3, 31)
        targets = {"hanako": None, "emma": None, "new": newcomer.person_id}
        for name, pid in targets.items():
            person = await people.person_by_email(session, f"{name}@example.com")
            await enqueue(session, person_id=pid or (person.id if person else 0),
                          reply=Reply("news"), key=f"b:{name}", kind="broadcast",
                          now=p.app.clock.now(), urgent=True)  # fmt: skip
    p.slack.revoke_after(ALUMNI_TOKEN, 0)
    worker = await p.deliver()
    async with p.app.db.transaction() as session:
        rows = dict((await session.execute(select(OutboxMessage.idempotency_key,
                                                   OutboxMessage.state))).all())  # fmt: skip
        why = await session.scalar(
            select(OutboxMessage.last_error).where(OutboxMessage.idempotency_key == "b:new")
        )
        alumni_ws = await session.scalars(select(Identity).where(Identity.workspace == ALUMNI))
        assert all(not i.reachable for i in alumni_ws)
    # Hanako falls back to the company workspace, Emma to Telegram; the newcomer, only in the
    # alumni workspace, is given up with the reason, not retried.
    assert {k: v for k, v in rows.items() if k.startswith("b:")} == {
        "b:hanako": "sent", "b:emma": "sent", "b:new": "dead"
    }  # fmt: skip
    assert why is not None and "token_revoked" in why
    assert "news" in p.tg.texts(EMMA_TG.id)
    assert [m for m in p.slack.posted("DUHANAKO") if m.get("text") == "news"]
    assert worker.stats.sent == 2
    await p.company.onboard("USUZUKI", agree="同意する", language="日本語")
    assert "New" in await p.company.command("USUZUKI", "reach")


async def test_a_strangers_workspace_cannot_become_the_admin_by_email(places: Places) -> None:
    """Anyone can install a distributed app: a user of an untrusted workspace whose Slack
    email is the admin's is not linked to the admin, gets no role and must join by invite."""
    p = places
    await load_linked_company(p.app)
    p.slack.add_team(STRANGE, STRANGE_TOKEN, "Strangers Inc")
    p.slack.add_user("USPY", "Spy", "en-US", team=STRANGE, email="admin@example.com")
    state, cookie = await start_install(p.company.client)
    p.slack.grant_code("code-strange", STRANGE_TOKEN)
    url = f"/slack/oauth_redirect?code=code-strange&state={state}"
    assert (await p.company.client.get(url, headers={"Cookie": cookie})).status_code == 200
    spy = Workspace(p.app, p.slack, p.company.client, p.company.channel, team=STRANGE)
    for command in ("audit", "stats", "invite uses=100"):
        answer = await spy.command("USPY", command)
        assert answer == "Please join first with the invite code you received: join CODE"
    linked = [(i.workspace, i.user_id) for i in await identities_of(p.app, "admin@example.com")]
    assert (STRANGE, "USPY") not in linked
    async with p.app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Invite)) == 0


async def test_a_slack_verified_email_links_the_same_person_once_per_workspace(
    places: Places,
) -> None:
    """Emma writes from the alumni workspace with the email Slack verified for her: she is the
    same person, no invite needed. A second account there with her email is someone else."""
    p = places
    await p.install_alumni()
    p.slack.add_user("UA_EMMA_V", "Emma", "en-GB", team=ALUMNI, email="emma@example.com")
    p.slack.add_user("UA_COPY", "Emma?", "en-GB", team=ALUMNI, email="emma@example.com")
    p.slack.add_user("UA_NOBODY", "Nobody", "en-GB", team=ALUMNI, email="nobody@example.org")
    assert "/alumni profile" in await p.alumni.command("UA_EMMA_V", "help")
    linked = [(i.workspace, i.user_id) for i in await identities_of(p.app, "emma@example.com")]
    assert (ALUMNI, "UA_EMMA_V") in linked
    for stranger in ("UA_COPY", "UA_NOBODY"):
        answer = await p.alumni.command(stranger, "help")
        assert "join" in answer and "/alumni profile" not in answer
    linked = [(i.workspace, i.user_id) for i in await identities_of(p.app, "emma@example.com")]
    assert (ALUMNI, "UA_COPY") not in linked
