"""Events: HR creates them, people RSVP (capacity, waitlist, promotion), calendar files,
reminders across time zones, changes and cancellations, attendance — and the bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from bot.core.clock import FixedClock
from bot.core.types import Button, Incoming
from bot.runtime.app import App
from handlers import events as event_handlers
from storage.models import Event, Interaction, OutboxMessage, Person, Rsvp
from tests.conftest import _truncate, chat, make_settings
from tests.support.crowd import add_people
from tests.support.dialog import Chat
from tests.support.people import load_company
from tests.test_onboarding import join_directly

FIELDS = (
    "title",
    "description",
    "timezone",
    "starts_at",
    "ends_at",
    "place",
    "online_url",
    "capacity",
    "rsvp_deadline",
    "segment",
)


async def new_event(hr: Chat, **answers: str) -> str:
    """Answer the `newevent` form; "-" keeps a default or skips an optional field."""
    defaults = {
        "title": "Year-end party",
        "starts_at": "2026-12-10 19:00",
        "ends_at": "2026-12-10 21:00",
        "place": "Tokyo office",
    }
    await hr.say("/newevent")
    for name in FIELDS:
        await hr.say(answers.get(name, defaults.get(name, "-")))
    return hr.text


async def latest_event(app: App) -> Event:
    async with app.db.transaction() as session:
        event = (await session.scalars(select(Event).order_by(Event.id.desc()))).first()
    assert event is not None
    return event


async def queued(app: App, kind: str) -> dict[int, list[OutboxMessage]]:
    async with app.db.transaction() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        ).all()
    out: dict[int, list[OutboxMessage]] = {}
    for row in rows:
        assert row.person_id is not None
        out.setdefault(row.person_id, []).append(row)
    return out


async def person_id(app: App, email: str) -> int:
    async with app.db.transaction() as session:
        found = await session.scalar(select(Person.id).where(Person.email == email))
    assert found is not None
    return found


async def rsvps(app: App, event_id: int) -> dict[int, str]:
    async with app.db.transaction() as session:
        rows = (await session.scalars(select(Rsvp).where(Rsvp.event_id == event_id))).all()
    return {r.person_id: r.status for r in rows}


def rsvp(event_id: int, answer: str) -> Button:
    return Button(answer, "events.rsvp", f"{event_id}:{answer}")


def ics_of(c: Chat) -> Calendar:
    files = [r.attachment for r in c.last if r.attachment is not None]
    assert files, c.text
    assert files[0].mime_type == "text/calendar" and files[0].filename.endswith(".ics")
    return Calendar.from_ical(files[0].content)


async def company(app: App) -> tuple[Chat, Chat, Chat]:
    """HR (English), Hanako (Japanese, alumna, 営業), Emma (English, alumna, Engineering)."""
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


async def test_invite_rsvp_waitlist_and_promotion_in_both_languages(app: App) -> None:
    hr, hanako, emma = await company(app)
    assert "Invitations queued: 2" in await new_event(hr, capacity="1")
    event = await latest_event(app)
    assert event.capacity == 1 and event.timezone == "Asia/Tokyo"
    assert event.starts_at == datetime(2026, 12, 10, 10, 0, tzinfo=UTC)  # 19:00 in Tokyo
    invitations = await queued(app, "event")
    hanako_id, emma_id = (
        await person_id(app, "hanako@example.com"),
        await person_id(app, "emma@example.com"),
    )
    assert set(invitations) == {hanako_id, emma_id}  # HR, the author, is not invited
    ja = invitations[hanako_id][0].payload
    assert "イベントのご案内" in ja["text"] and "2026年12月10日(木) 19:00–21:00" in ja["text"]
    assert [b[1] for b in ja["buttons"][0]] == ["events.rsvp"] * 3
    assert ja["buttons"][1][0][1] == "events.ics"  # the queued message carries no file

    assert "これからのイベント" in await hanako.say("/events")
    assert "未回答" in hanako.text
    await hanako.press("Year-end party")
    assert "残り 1 席" in hanako.text
    assert "参加で登録しました" in await hanako.press("参加")
    assert ics_of(hanako).walk("VEVENT")[0]["UID"] == event.uid

    await emma.say("/events")
    await emma.press("Year-end party")
    assert "Seats left: 0 of 1" in emma.text
    assert "on the waitlist" in await emma.press("Going")
    assert "number 1 on the waitlist" in emma.text
    assert "already answered: on the waitlist" in await emma.press_button(rsvp(event.id, "going"))
    assert (await rsvps(app, event.id))[emma_id] == "waitlist"

    assert "不参加" in await hanako.press_button(rsvp(event.id, "no"))
    assert await rsvps(app, event.id) == {hanako_id: "no", emma_id: "going"}
    promoted = (await queued(app, "event_update"))[emma_id]
    assert "A seat freed up" in promoted[0].payload["text"]
    assert "Your answer: going" in await emma.say("/events")


async def test_bad_event_input_gets_one_clear_message_and_changes_nothing(
    sqlite_app: App,
) -> None:
    app = sqlite_app
    hr, _, emma = await company(app)
    assert "only available to HR" in await emma.say("/newevent")

    await hr.say("/newevent")
    for answer in ("Party", "-", "-", "2026-12-10 19:00", "2026-12-10 18:00"):
        await hr.say(answer)
    for answer in ("Office", "-", "-", "-"):
        await hr.say(answer)
    assert "must end after it starts" in await hr.say("-")
    assert "Ends at" in hr.text  # asked again
    for answer in ("2026-12-10 21:00", "Office", "-", "0", "-"):
        await hr.say(answer)
    assert "whole number above 0" in await hr.say("-")
    for answer in ("-5", "-"):
        await hr.say(answer)
    assert "whole number above 0" in await hr.say("-")
    assert "Capacity" in hr.text
    for answer in ("", "2026-12-11 19:00"):  # empty: unlimited; a deadline after the start
        await hr.say(answer or "-")
    assert "before the event starts" in await hr.say("-")
    await hr.say("-")
    assert "Audience not understood" in await hr.say("planet:mars")
    assert "created" in await hr.say("department:Engineering")

    async with app.db.transaction() as session:
        assert len((await session.scalars(select(Event))).all()) == 1
    assert "already passed" in await new_event(hr, starts_at="2026-11-01 10:00")
    assert "place or an online link" in await new_event(hr, place="-")
    assert "http" in await new_event(hr, online_url="zoom meeting")


async def test_rsvp_after_the_deadline_or_to_a_cancelled_event_is_refused(
    sqlite_app: App, clock: FixedClock
) -> None:
    app = sqlite_app
    hr, hanako, emma = await company(app)
    await new_event(hr, rsvp_deadline="2026-12-01 18:00")
    event = await latest_event(app)
    assert "参加で登録" in await hanako.press_button(rsvp(event.id, "going"))
    clock.current = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 18:00 in Tokyo: closed
    assert "deadline for this event has passed" in await emma.press_button(rsvp(event.id, "maybe"))
    assert "締切は過ぎています" in await hanako.press_button(rsvp(event.id, "maybe"))
    assert (await rsvps(app, event.id)) == {await person_id(app, "hanako@example.com"): "going"}

    clock.current = datetime(2026, 11, 25, tzinfo=UTC)
    await hr.say("/events")
    await hr.press("Year-end party")
    assert 'Cancel "Year-end party"?' in await hr.press("Cancel event")
    assert "cancelled; 1 people will be told" in await hr.press("Yes, cancel it")
    notices = await queued(app, "event_update")
    assert (
        "中止になりました" in notices[await person_id(app, "hanako@example.com")][0].payload["text"]
    )
    assert "has been cancelled" in await emma.press_button(rsvp(event.id, "going"))
    assert "No upcoming events" in await emma.say("/events")


async def test_ics_keeps_its_uid_and_its_sequence_grows_with_each_change(
    app: App, clock: FixedClock
) -> None:
    hr, hanako, _ = await company(app)
    await new_event(
        hr,
        timezone="Europe/London",
        starts_at="2027-03-28 18:00",
        ends_at="2027-03-28 20:00",
        online_url="https://meet.example.com/x",
    )
    event = await latest_event(app)
    assert event.starts_at == datetime(2027, 3, 28, 17, 0, tzinfo=UTC)  # BST, after the change
    await hanako.press_button(rsvp(event.id, "going"))
    first = ics_of(hanako).walk("VEVENT")[0]
    assert str(first["UID"]) == event.uid and int(str(first["SEQUENCE"])) == 0
    start = first.decoded("DTSTART")
    assert start.tzinfo.key == "Europe/London" and (start.hour, start.minute) == (18, 0)
    assert str(first["LOCATION"]) == "Tokyo office, https://meet.example.com/x"

    clock.advance(hours=1)
    await hr.say("/events")
    await hr.press("Year-end party")
    await hr.press("Edit")
    assert "Edit event" in hr.text and "Now: Year-end party" in hr.text
    answers = {"starts_at": "2027-03-28 19:00", "ends_at": "2027-03-28 21:00"}
    for name in FIELDS:
        if name == "starts_at":
            assert "Now: 2027-03-28 18:00" in hr.text  # in the event's zone, not HR's
        await hr.say(answers.get(name, "-"))
    assert "Event updated; 1 people will be told" in hr.text
    changed = (await queued(app, "event_update"))[await person_id(app, "hanako@example.com")]
    assert "イベントの内容が変わりました" in changed[0].payload["text"]
    assert changed[0].payload["buttons"][0][0][1] == "events.ics"

    await hanako.press_button(Button("cal", "events.ics", str(event.id)))
    second = ics_of(hanako).walk("VEVENT")[0]
    assert str(second["UID"]) == event.uid and int(str(second["SEQUENCE"])) == 1
    assert second.decoded("DTSTART").hour == 19
    await hanako.press_button(rsvp(event.id, "maybe"))  # this process read the event before:
    await hanako.press_button(rsvp(event.id, "going"))  # the file is the edited one
    again = ics_of(hanako).walk("VEVENT")[0]
    assert int(str(again["SEQUENCE"])) == 1 and again.decoded("DTSTART").hour == 19

    await hr.press_button(Button("x", "events.cancel", f"{event.id}:yes"))
    await hanako.press_button(Button("cal", "events.ics", str(event.id)))
    cal = ics_of(hanako)
    third = cal.walk("VEVENT")[0]
    assert str(cal["METHOD"]) == "CANCEL" and str(third["STATUS"]) == "CANCELLED"
    assert str(third["UID"]) == event.uid and int(str(third["SEQUENCE"])) == 2


ZONES = {  # person: (time zone, locale, how the 18:00 London start reads for them)
    "tokyo": ("Asia/Tokyo", "ja", "2027年3月29日(月) 02:00–04:00 (Asia/Tokyo)"),
    "london": ("Europe/London", "en", "Sun, Mar 28, 2027 18:00–20:00 (Europe/London)"),
    "kiritimati": ("Pacific/Kiritimati", "en", "Mon, Mar 29, 2027 07:00–09:00"),  # UTC+14
    "pago": ("Pacific/Pago_Pago", "en", "Sun, Mar 28, 2027 06:00–08:00"),  # UTC−11
}


async def test_reminders_24h_and_1h_before_in_each_persons_time_zone(
    sqlite_app: App, clock: FixedClock
) -> None:
    """The event is on the day London moves to summer time (01:00 UTC, 28 March 2027): the
    reminders are 24 and 1 real hours before the start, whatever the wall clocks did."""
    app = sqlite_app
    start = datetime(2027, 3, 28, 17, 0, tzinfo=UTC)  # 18:00 BST
    ids: dict[str, int] = {}
    async with app.db.transaction() as session:
        event = Event(
            uid="u1@test",
            title="Spring meetup",
            timezone="Europe/London",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            place="London",
            segment="all",
            status="scheduled",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(event)
        for name, (zone, locale, _) in ZONES.items():
            p = Person(
                name=name,
                timezone=zone,
                locale=locale,
                consent_at=clock.now(),
                skills=[],
                desired_roles=[],
                opt_outs=[],
            )
            session.add(p)
            await session.flush()
            ids[name] = p.id
            session.add(Rsvp(event_id=event.id, person_id=p.id, status="going"))
        quiet = Person(
            name="opted out",
            consent_at=clock.now(),
            opt_outs=["events"],
            skills=[],
            desired_roles=[],
        )
        session.add(quiet)
        await session.flush()
        session.add(Rsvp(event_id=event.id, person_id=quiet.id, status="going"))

    clock.current = start - timedelta(hours=24, seconds=1)
    assert await event_handlers.remind(app) == 0
    clock.current = start - timedelta(hours=24)  # 17:00 GMT on the 27th, not 18:00
    assert await event_handlers.remind(app) == 5
    assert await event_handlers.remind(app) == 0
    day = await queued(app, "event_reminder")
    assert set(day) == set(ids.values())  # the opted-out person is marked, not messaged
    for name, (_, _, reads) in ZONES.items():
        (message,) = day[ids[name]]
        assert reads in message.payload["text"], (name, message.payload["text"])
        assert not message.urgent and message.not_before == clock.now()
    # no "tomorrow" or "in 24 hours": quiet hours may hold it overnight; the details say when
    assert "リマインド：参加予定のイベントです" in day[ids["tokyo"]][0].payload["text"]

    clock.current = start - timedelta(hours=1, seconds=1)
    assert await event_handlers.remind(app) == 0
    clock.current = start - timedelta(minutes=59)  # a worker one minute late
    assert await event_handlers.remind(app) == 5
    hour = await queued(app, "event_reminder")
    for name in ZONES:
        last = hour[ids[name]][-1]
        assert last.urgent  # quiet hours would hold it past the start
        assert ("1 hour" in last.payload["text"]) or ("1時間" in last.payload["text"])
    clock.current = start + timedelta(minutes=1)
    assert await event_handlers.remind(app) == 0


async def test_going_late_skips_reminders_already_overdue(app: App, clock: FixedClock) -> None:
    hr, hanako, _ = await company(app)
    local = (clock.now() + timedelta(hours=5)).astimezone(ZoneInfo("Asia/Tokyo"))
    await new_event(
        hr,
        starts_at=f"{local:%Y-%m-%d %H:%M}",
        ends_at=f"{local + timedelta(hours=1):%Y-%m-%d %H:%M}",
    )
    event = await latest_event(app)
    await hanako.press_button(rsvp(event.id, "going"))
    assert await event_handlers.remind(app) == 0  # the 24-hour one is overdue: not sent
    clock.current = event.starts_at - timedelta(hours=1)
    assert await event_handlers.remind(app) == 1


async def test_a_late_hour_reminder_says_how_many_minutes_are_left(
    sqlite_app: App, clock: FixedClock
) -> None:
    """The scheduler was down: the urgent reminder, sent 20 minutes before, says 20 minutes."""
    app = sqlite_app
    hr, hanako, _ = await company(app)
    local = (clock.now() + timedelta(hours=3)).astimezone(ZoneInfo("Asia/Tokyo"))
    await new_event(
        hr,
        starts_at=f"{local:%Y-%m-%d %H:%M}",
        ends_at=f"{local + timedelta(hours=1):%Y-%m-%d %H:%M}",
    )
    event = await latest_event(app)
    await hanako.press_button(rsvp(event.id, "going"))
    clock.current = event.starts_at - timedelta(minutes=20)
    assert await event_handlers.remind(app) == 1
    (message,) = (await queued(app, "event_reminder"))[await person_id(app, "hanako@example.com")]
    assert "あと20分で始まります" in message.payload["text"]
    assert "1時間" not in message.payload["text"]


async def test_attendance_logs_in_person_interactions_between_alumni_and_employees(
    app: App, clock: FixedClock
) -> None:
    hr, hanako, emma = await company(app)
    await join_directly(app, "taro@example.com", "ja")
    taro = chat(app, "taro@example.com")
    await new_event(hr)
    event = await latest_event(app)
    for person in (hanako, emma, taro):
        await person.press_button(rsvp(event.id, "going"))
    await hr.say("/events")
    await hr.press("Year-end party")
    code = event.checkin_code
    assert code and f"check-in code {code}" in hr.text

    assert "イベント開始の1時間前から" in await hanako.say(f"/events checkin {code}")
    assert "opens an hour before" in await hr.press("Attendance")

    clock.current = event.starts_at
    assert "does not match" in await emma.say("/events checkin WRONG1")
    await hr.press_button(Button("att", "events.attendance", str(event.id)))
    assert "0 of 3 came" in hr.text
    await hr.press("☐ 山田 花子")
    await hr.press("☐ 佐藤 太郎")
    assert "2 of 3 came" in hr.text and "✅ 山田 花子" in hr.text
    assert "Welcome to Year-end party" in await emma.say(f"/events checkin {code.lower()}")
    assert "already checked in" in await emma.say(f"/events checkin {code}")

    ids = {e: await person_id(app, f"{e}@example.com") for e in ("hanako", "taro", "emma")}
    async with app.db.transaction() as session:
        logged = (await session.scalars(select(Interaction))).all()
    pairs = {frozenset((i.person_a, i.person_b)) for i in logged}
    assert pairs == {frozenset((ids["hanako"], ids["taro"])), frozenset((ids["emma"], ids["taro"]))}
    assert {(i.kind, i.source, i.occurred_on) for i in logged} == {
        ("in_person", "event", date(2026, 12, 10))
    }


async def test_segment_limits_who_is_invited_and_who_may_answer(sqlite_app: App) -> None:
    app = sqlite_app
    hr, hanako, emma = await company(app)
    assert "Invitations queued: 1" in await new_event(hr, segment="department:営業")
    event = await latest_event(app)
    assert set(await queued(app, "event")) == {await person_id(app, "hanako@example.com")}
    assert "No upcoming events" in await emma.say("/events")
    assert "not open to you" in await emma.press_button(rsvp(event.id, "going"))
    assert "Year-end party" in await hanako.say("/events")


# ---- PostgreSQL: real concurrency -----------------------------------------------------------


@pytest.fixture
async def pg_app(pg_url: str, clock: FixedClock) -> AsyncIterator[App]:
    await _truncate(pg_url)
    application = App.build(make_settings(pg_url), clock)
    yield application
    await application.close()


async def seats_event(app: App, capacity: int) -> int:
    now = app.clock.now()
    async with app.db.transaction() as session:
        event = Event(
            uid=f"seats-{capacity}@test",
            title="Small dinner",
            timezone="Asia/Tokyo",
            starts_at=now + timedelta(days=7),
            ends_at=now + timedelta(days=7, hours=2),
            place="Ginza",
            capacity=capacity,
            segment="all",
            status="scheduled",
            created_at=now,
            updated_at=now,
        )
        session.add(event)
        await session.flush()
        return event.id


def press(app: App, user: str, button: Button) -> Incoming:
    return Incoming(chat(app, user).actor, user, action=button.action, payload=button.payload)


@pytest.mark.postgres
async def test_two_people_take_the_last_seat_at_once(pg_app: App) -> None:
    app = pg_app
    await add_people(app.db, 2, app.clock.now(), channel="console", prefix="p")
    event_id = await seats_event(app, capacity=1)
    replies = await asyncio.gather(
        *(app.dispatcher.dispatch(press(app, f"p{n}", rsvp(event_id, "going"))) for n in (0, 1))
    )
    texts = sorted(r[0].text for r in replies)
    assert "You're going" in texts[1] and "on the waitlist" in texts[0], texts
    assert sorted((await rsvps(app, event_id)).values()) == ["going", "waitlist"]


@pytest.mark.postgres
async def test_many_at_once_fill_the_seats_exactly_and_double_taps_count_once(pg_app: App) -> None:
    app = pg_app
    await add_people(app.db, 12, app.clock.now(), channel="console", prefix="q")
    event_id = await seats_event(app, capacity=5)
    taps = [f"q{n}" for n in range(12)] + ["q0", "q1", "q2"]  # three double taps
    replies = await asyncio.gather(
        *(app.dispatcher.dispatch(press(app, u, rsvp(event_id, "going"))) for u in taps)
    )
    texts = [r[0].text for r in replies]
    assert not [t for t in texts if "Sorry" in t], texts
    assert sum("already answered" in t for t in texts) == 3
    statuses = list((await rsvps(app, event_id)).values())
    assert len(statuses) == 12
    assert statuses.count("going") == 5 and statuses.count("waitlist") == 7


@pytest.mark.postgres
async def test_two_workers_never_send_the_same_reminder(pg_app: App, clock: FixedClock) -> None:
    app = pg_app
    ids = await add_people(app.db, 30, clock.now(), channel="console", prefix="r")
    event_id = await seats_event(app, capacity=100)
    async with app.db.transaction() as session:
        session.add_all(Rsvp(event_id=event_id, person_id=i, status="going") for i in ids)
        await session.execute(update(Event).values(starts_at=clock.now() + timedelta(hours=23)))
    other = App.build(make_settings(app.settings.database_url), clock)
    try:
        counts = await asyncio.gather(event_handlers.remind(app), event_handlers.remind(other))
    finally:
        await other.close()
    assert sum(counts) == 30
    assert sum(len(v) for v in (await queued(app, "event_reminder")).values()) == 30


async def test_a_calendar_file_is_named_by_its_date_and_japanese_title(app: App) -> None:
    hr, hanako, _ = await company(app)
    await new_event(
        hr,
        title="第２回 OB会／忘年会",
        starts_at="2026-12-10 08:30",
        ends_at="2026-12-10 10:00",
    )
    event = await latest_event(app)
    await hanako.press_button(Button("cal", "events.ics", str(event.id)))
    files = [r.attachment for r in hanako.last if r.attachment is not None]
    # The local date (08:30 in Tokyo is still the 9th in UTC), the title's words; the
    # full-width ２ and the slash that no file system takes become 2 and a dash.
    assert [f.filename for f in files] == ["2026-12-10-第2回-OB会-忘年会.ics"]
