"""The router as people meet it: unknown commands, odd text, refusals, failures, forms."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import event, func, select

from bot.core.clock import FixedClock
from bot.core.types import Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from bot.dispatch.router import Dispatcher, Route, Router
from bot.runtime.app import App
from handlers import ROUTES
from storage import people
from storage.models import AuditEntry, Person, Role
from tests.conftest import chat
from tests.support.people import load_company
from tests.test_onboarding import join_directly


async def test_unknown_command_suggests_the_closest_one(app: App) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    assert "/profile" in await emma.say("/profil")
    assert "/settings" in await emma.say("setings")
    assert "help" in await emma.say("/zzzzqqq")
    assert "/profile" not in emma.text


async def test_guest_is_asked_to_join_for_member_commands(app: App) -> None:
    guest = chat(app, "stranger", locale_hint="en")
    assert "join" in await guest.say("/profile")
    guest_ja = chat(app, "stranger-ja", locale_hint="ja")
    assert "招待コード" in await guest_ja.say("/profile")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Send a command"),
        ("   \n\t ", "Send a command"),
        ("x" * 10_000, "too long"),
        ("\x07he\x00lp\x1b", "Welcome to the alumni network"),  # control characters dropped
        ("🎉🎉", "didn't understand"),
        ("help me please お願い", "Welcome to the alumni network"),
        # a hello is greeted (it was "did you mean /log?"), in any width, in Japanese too
        ("hi", "Welcome to the alumni network"),
        ("Hello!", "Welcome to the alumni network"),
        ("こんにちは！", "Welcome to the alumni network"),
        ("ヘルプ", "Welcome to the alumni network"),
        ("使い方", "Welcome to the alumni network"),
        ("ｈｅｌｐ", "Welcome to the alumni network"),
        ("／ｈｅｌｐ", "Welcome to the alumni network"),
    ],
)
async def test_odd_messages_get_one_clear_answer(app: App, text: str, expected: str) -> None:
    guest = chat(app, "odd", locale_hint="en")
    assert expected in await guest.say(text)
    assert len(guest.last) == 1


async def test_japanese_and_full_width_command_names(app: App) -> None:
    await load_company(app)
    await join_directly(app, "hanako@example.com", locale="ja")
    hanako = chat(app, "hanako@example.com")
    jobs = await hanako.say("/jobs")
    assert jobs and await hanako.say("求人") == jobs and await hanako.say("ｊｏｂｓ") == jobs
    assert await hanako.say("イベント") == await hanako.say("/events")
    assert await hanako.say("プロフィール") == await hanako.say("/profile")
    assert "/求人" not in await hanako.say("/help")  # help lists each command by its name


async def test_an_id_typed_with_odd_digits_gets_the_unknown_message(app: App) -> None:
    """`²` and `①` pass str.isdigit() but int() refused `²`: "/refer ²" was an apology."""
    await load_company(app)
    await join_directly(app, "emma@example.com", locale="en")
    await join_directly(app, "hr@example.com", locale="en")
    emma, hr = chat(app, "emma@example.com"), chat(app, "hr@example.com")
    for text in ("/refer ²", "/refer ⑨", "/refer 99999999999999999999"):
        assert "There is no opening" in await emma.say(text)
    assert "There is no opening" in await hr.say("/referrals ²")


async def test_alumna_cannot_use_hr_commands_and_the_refusal_is_audited(app: App) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    assert "only available to HR" in await emma.say("/invite hanako@example.com")
    async with app.db.transaction() as session:
        refused = (
            await session.scalars(select(AuditEntry).where(AuditEntry.allowed.is_(False)))
        ).all()
    assert [(e.action, e.target) for e in refused] == [("refused", "invite")]


async def test_an_internal_error_is_logged_and_the_user_gets_an_apology(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(ctx: object, msg: Incoming) -> Reply:
        raise RuntimeError("secret internal detail")

    router = Router([*ROUTES, Route(broken, command="boom", public=True, consent=False)])
    dispatcher = Dispatcher(app.db, app.settings, app.catalogs, router, app.clock)
    with caplog.at_level(logging.ERROR):
        replies = await dispatcher.dispatch(Incoming(chat(app, "u").actor, "u", text="/boom"))
    assert len(replies) == 1
    assert "secret" not in replies[0].text and "申し訳ありません" in replies[0].text
    assert "secret internal detail" in caplog.text and "command=None" in caplog.text


async def test_cancelling_a_form_changes_nothing(app: App) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    await emma.say("/profile")
    await emma.press("Edit profile")
    await emma.say("Rust; Go")
    assert "Cancelled" in await emma.say("/cancel")
    assert "Python, SQL" in await emma.say("/profile")
    assert "nothing to cancel" in await emma.say("cancel")


async def test_a_command_typed_into_a_form_runs_and_the_form_waits(
    app: App, clock: FixedClock
) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    await emma.say("/profile")
    await emma.press("Edit profile")
    for line in ("help", "stats", "/jobs"):  # a command's name alone, or a /command
        answer = await emma.say(line)
        assert "Your form is waiting" in answer and "(2/4)" not in answer
    assert "Here is what you can do" in await emma.say("help")
    await emma.say("Rust; help desk")  # several words: an answer, even one starting "help"
    assert "(2/4)" in emma.text
    clock.advance(hours=3)  # the next line comes much later: the form says it is still open
    answer = await emma.say("Staff engineer")
    assert "form open from earlier" in answer and "(2/4)" in answer
    await emma.say("Staff engineer")
    assert "(3/4)" in emma.text
    await emma.say("-")
    assert "Now: open" not in emma.text and "Now: unknown" not in emma.text  # labels, not values
    await emma.press("maybe")
    assert "Rust" in emma.text and "help desk" in emma.text and "Staff engineer" in emma.text
    await emma.say("/profile")
    await emma.press("Edit profile")
    for _ in range(3):
        await emma.say("-")
    assert "Now: maybe, tell me about good fits" in emma.text  # the label, not the value


async def test_a_bad_field_is_asked_again_with_the_reason(app: App) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    await emma.say("/settings")
    await emma.press("Edit settings")
    await emma.press("English")
    assert "not a time zone" in await emma.say("Mars/Olympus")
    assert "(2/9)" in emma.text
    await emma.say("Pacific/Kiritimati")
    assert "21:00" in await emma.say("25:99") and "(3/9)" in emma.text
    await emma.say("22:30")
    await emma.say("07:00")
    await emma.press("weekly")
    await emma.say("07:30")
    assert "(7/9) Job and perk messages" in emma.text
    await emma.press("fewer")
    assert "(8/9) Holidays of which country" in emma.text and "now JP" in emma.text
    await emma.say("XX")
    assert "(9/9) Pause until" in emma.text
    assert "not a country code" in await emma.say("-")  # checked on submit, asked again
    await emma.say("gb")  # British holidays, wherever she lives
    await emma.say("-")  # and still no pause
    assert "Settings saved" in emma.text and "Pacific/Kiritimati" in emma.text
    assert "22:30–07:00" in emma.text and "weekly (07:30)" in emma.text
    assert "Job and perk messages: fewer" in emma.text and "Holidays of: GB" in emma.text
    async with app.db.transaction() as session:
        person = (
            await session.scalars(select(Person).where(Person.email == "emma@example.com"))
        ).one()
        assert (person.checkin_minute, person.next_checkin_at) == (7 * 60 + 30, None)


async def test_a_form_resumes_after_a_restart(app: App) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    await emma.say("/profile")
    await emma.press("Edit profile")
    await emma.say("Python; Rust")
    restarted = App.build(app.settings, app.clock)
    try:
        again = chat(restarted, "emma@example.com")
        assert "(2/4)" in emma.text
        await again.say("Tech lead")
        await again.say("-")  # keep the location
        await again.press("maybe")
        assert "Rust" in again.text and "Tech lead" in again.text and "London" in again.text
    finally:
        await restarted.close()


async def test_emoji_and_mixed_japanese_english_are_kept(app: App) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    await emma.say("/profile")
    await emma.press("Edit profile")
    await emma.say("Python 🐍、機械学習, ML；営業")
    await emma.say("-")
    await emma.say("東京 🗼")
    await emma.press("not now")
    async with app.db.transaction() as session:
        person = (
            await session.scalars(select(Person).where(Person.email == "emma@example.com"))
        ).one()
        assert person.skills == ["Python 🐍", "機械学習", "ML", "営業"]
        assert person.location == "東京 🗼"
        assert await session.scalar(select(func.count()).select_from(Person)) == 5


async def test_a_form_submit_pressed_as_a_button_changes_nothing(app: App) -> None:
    await load_company(app)
    await join_directly(app, "emma@example.com")
    emma = chat(app, "emma@example.com")
    forged = Incoming(
        emma.actor, "x", action="profile.save", values={"skills": "", "comeback": "open"}
    )
    [reply] = await app.dispatcher.dispatch(forged)
    assert "expired" in reply.text
    assert "Python, SQL" in await emma.say("/profile")


def test_no_test_reaches_the_internet() -> None:
    """tests/conftest.py refuses to resolve or connect to anything but loopback."""
    import socket

    with pytest.raises(OSError, match="internet"):
        socket.create_connection(("example.com", 80), timeout=1)
    with socket.socket() as sock, pytest.raises(OSError, match=r"only 127\.0\.0\.1"):
        sock.connect(("93.184.215.14", 80))


async def test_who_writes_their_person_and_every_role_come_in_one_query(app: App) -> None:
    await load_company(app)
    await join_directly(app, "admin@example.com")
    async with app.db.transaction() as session:  # an admin who is HR as well: two grants
        admin = await people.person_by_email(session, "admin@example.com")
        assert admin is not None
        await people.grant(session, admin, Role.HR, None, app.clock.now())
    selects: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    engine = app.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with app.db.transaction() as session:
            identity = await people.identity_for(session, chat(app, "admin@example.com").actor,
                                                 app.clock.now())  # fmt: skip
            assert identity.person is not None
            roles = people.roles_of(identity.person)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(selects) == 1
    assert {Role.ADMIN, Role.HR} <= roles
    assert "/invite" in await chat(app, "admin@example.com").say("/help")  # HR commands listed


async def test_a_route_without_a_savepoint_that_refuses_after_writing_keeps_nothing(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """`Route(savepoint=False)` promises to refuse only before writing; should it refuse after a
    write, nothing of that message is kept: an apology, and the broken promise in the log."""
    await load_company(app)
    await join_directly(app, "emma@example.com")

    async def refuses_early(ctx: Context, msg: Incoming) -> Reply:
        if msg.payload == "no":
            raise UserFacingError("error.expired_button")
        await ctx.audit("tried", msg.payload)
        return Reply("done")

    async def refuses_late(ctx: Context, msg: Incoming) -> Reply:
        await ctx.audit("tried", msg.payload)
        await ctx.session.flush()
        raise UserFacingError("error.expired_button")

    router = Router([
        *ROUTES,
        Route(refuses_early, action="t.early", savepoint=False),
        Route(refuses_late, action="t.late", savepoint=False),
    ])  # fmt: skip
    dispatcher = Dispatcher(app.db, app.settings, app.catalogs, router, app.clock)
    actor = chat(app, "emma@example.com").actor

    async def press(action: str, payload: str) -> str:
        replies = await dispatcher.dispatch(Incoming(actor, "c", action=action, payload=payload))
        return replies[0].text

    def texts(key: str) -> set[str]:
        return {app.catalogs.text(locale, key) for locale in ("en", "ja")}

    assert await press("t.early", "yes") == "done"
    assert await press("t.early", "no") in texts("error.expired_button")
    with caplog.at_level(logging.ERROR):
        apology = await press("t.late", "late")
    assert apology in texts("error.internal") and "t.late refused after writing" in caplog.text
    async with app.db.transaction() as session:
        tried = (await session.scalars(select(AuditEntry.target).where(
            AuditEntry.action == "tried"))).all()  # fmt: skip
    assert tried == ["yes"]
