"""Events as attendees meet them: the list, an event's card, RSVP with a waitlist, the calendar
file, checking in with the code shown at the event, and the reminders.

Commands: events, events checkin CODE.
Buttons: open an event, RSVP (going / maybe / can't go), add to calendar, check in.
Scheduled work: `remind` — 24 hours and 1 hour before the start, to those going, with the
time shown in each person's own time zone.
HR's side (newevent, edit, cancel, attendance) is handlers/events_hr.py.

Queued messages cannot carry files (the outbox stores text and buttons only), so invitations,
reminders and change notices carry an "Add to calendar" button whose answer is the .ics file;
answers to a person's own taps attach the file directly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from bot.core.i18n import Translator
from bot.core.markup import bold
from bot.core.normalize import number
from bot.core.types import Button, FieldKind, Form, FormField, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from bot.dispatch.services import Services
from handlers import ics
from storage import events as store
from storage import outbox, rsvps
from storage.events import RsvpStatus
from storage.models import Event, OutboxKind, Person, Role, Rsvp

LIST_LIMIT = 10
REMIND_BATCH = 200
CHECKIN_WORDS = frozenset({"checkin", "check-in", "チェックイン"})


# ---- how an event reads -------------------------------------------------------------------


def when(t: Translator, event: Event, timezone: str) -> str:
    """`Sun, Mar 28, 2027 18:00–20:00 (Europe/London)`, in the given zone and language."""
    zone = ZoneInfo(timezone)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    day = format_skeleton("yMMMEd", start, tzinfo=zone, locale=t.locale)
    if end.date() == start.date():
        return f"{day} {start:%H:%M}–{end:%H:%M} ({timezone})"
    last = format_skeleton("yMMMEd", end, tzinfo=zone, locale=t.locale)
    return f"{day} {start:%H:%M} – {last} {end:%H:%M} ({timezone})"


def details(t: Translator, event: Event, timezone: str) -> str:
    lines = [bold(event.title), "🕒 " + when(t, event, timezone)]
    if timezone != event.timezone:
        lines.append(t("events.local_time", when=when(t, event, event.timezone)))
    if event.place:
        lines.append(f"📍 {event.place}")
    if event.online_url:
        lines.append(f"🔗 {event.online_url}")
    if event.description:
        lines.append(event.description)
    return "\n".join(lines)


def status_label(t: Translator, rsvp: Rsvp | None) -> str:
    return t(f"events.status.{rsvp.status}") if rsvp else t("events.status.none")


def rsvp_row(t: Translator, event_id: int) -> tuple[Button, ...]:
    return (
        Button(t("events.going"), "events.rsvp", f"{event_id}:going", style="primary"),
        Button(t("events.maybe"), "events.rsvp", f"{event_id}:maybe"),
        Button(t("events.no"), "events.rsvp", f"{event_id}:no"),
    )


def calendar_button(t: Translator, event_id: int) -> Button:
    return Button(t("events.add_to_calendar"), "events.ics", str(event_id))


def invitation(t: Translator, event: Event, timezone: str) -> Reply:
    text = t("events.invitation") + "\n\n" + details(t, event, timezone)
    if event.rsvp_deadline:
        text += "\n" + t("events.rsvp_by", when=when_point(t, event.rsvp_deadline, timezone))
    return Reply(text, buttons=(rsvp_row(t, event.id), (calendar_button(t, event.id),)))


def when_point(t: Translator, moment: datetime, timezone: str) -> str:
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    return f"{format_skeleton('yMMMEd', local, tzinfo=zone, locale=t.locale)} {local:%H:%M}"


def segment_of(event: Event) -> store.Segment | None:
    try:
        return store.parse_segment(event.segment)
    except ValueError:
        return None


def is_hr(ctx: Context) -> bool:
    return ctx.has_role(Role.HR, Role.ADMIN)


async def invited(ctx: Context, event: Event) -> bool:
    segment = segment_of(event)
    if is_hr(ctx) or (segment is not None and segment.kind == "all"):
        return True  # everyone who joined: no need to ask the database
    return segment is not None and await store.contains(ctx.session, segment, ctx.me.id)


async def event_for(ctx: Context, payload: str, *, lock: bool = False) -> Event:
    """The event a button names; a stale or foreign id is an expired button."""
    event_id = number(payload.split(":", 1)[0])
    if event_id is None:
        raise UserFacingError("error.expired_button")
    event = await store.get(ctx.session, event_id, lock=lock)
    if event is None:
        raise UserFacingError("error.expired_button")
    await check_invited(ctx, event)
    return event


async def check_invited(ctx: Context, event: Event) -> None:
    """Those outside the event's audience may still change an answer they gave."""
    if (
        not await invited(ctx, event)
        and await store.rsvp_of(ctx.session, event.id, ctx.me.id) is None
    ):
        raise UserFacingError("events.not_invited")


# ---- commands and buttons -----------------------------------------------------------------


async def list_(ctx: Context, msg: Incoming) -> Reply:
    """`events`: upcoming events for the caller, with their RSVP; `events checkin CODE`."""
    t = ctx.t
    if msg.args and msg.args[0].lower() in CHECKIN_WORDS:
        if len(msg.args) < 2:
            raise UserFacingError("events.checkin_usage")
        event = await store.by_checkin_code(ctx.session, msg.args[1], ctx.now)
        if event is None:
            raise UserFacingError("events.checkin_bad_code")
        return await check_in(ctx, event)
    found = [e for e in await store.upcoming(ctx.session, ctx.now) if await invited(ctx, e)]
    found = found[:LIST_LIMIT]
    if not found:
        return Reply(t("events.none_hr" if is_hr(ctx) else "events.none"))
    mine = await store.rsvps_of(ctx.session, ctx.me.id, [e.id for e in found])
    lines = [t("events.list_title")]
    for i, event in enumerate(found, 1):
        lines.append(
            f"{i}. {event.title} — {when(t, event, ctx.timezone)} — "
            + t("events.your_rsvp", status=status_label(t, mine.get(event.id)))
        )
    buttons = tuple(
        (Button(f"{i}. {e.title[:40]}", "events.open", str(e.id)),) for i, e in enumerate(found, 1)
    )
    return Reply("\n".join(lines), buttons=buttons)


async def card(ctx: Context, event: Event) -> Reply:
    t = ctx.t
    count = (await store.counts(ctx.session, [event.id]))[event.id]
    going = count.get(RsvpStatus.GOING, 0)
    lines = [details(t, event, ctx.timezone)]
    if event.status == "cancelled":
        lines.append(t("events.is_cancelled"))
    if event.capacity is None:
        lines.append(t("events.seats_unlimited", going=going))
    else:
        left = max(event.capacity - going, 0)
        lines.append(t("events.seats", left=left, capacity=event.capacity))
    rsvp = await store.rsvp_of(ctx.session, event.id, ctx.me.id)
    lines.append(t("events.your_rsvp", status=status_label(t, rsvp)))
    if rsvp is not None and rsvp.status == RsvpStatus.WAITLIST:
        lines.append(
            t("events.position", position=await store.waitlist_position(ctx.session, rsvp))
        )
    rows: list[tuple[Button, ...]] = []
    if event.status == "scheduled":
        rows.append(rsvp_row(t, event.id))
    rows.append((calendar_button(t, event.id),))
    if event.status == "scheduled" and store.checkin_open(event, ctx.now):
        rows.append((Button(t("events.checkin_button"), "events.checkin", str(event.id)),))
    if is_hr(ctx):
        lines.append(
            t(
                "events.hr_summary",
                going=going,
                maybe=count.get(RsvpStatus.MAYBE, 0),
                waitlist=count.get(RsvpStatus.WAITLIST, 0),
                attended=count.get("attended", 0),
                code=event.checkin_code or "-",
                segment=event.segment,
            )
        )
        if event.status == "scheduled":
            rows.append(
                (
                    Button(t("events.edit"), "events.edit", str(event.id)),
                    Button(t("events.cancel_event"), "events.cancel", str(event.id)),
                    Button(t("events.attendance"), "events.attendance", str(event.id)),
                )
            )
    return Reply("\n".join(lines), buttons=tuple(rows))


async def open_(ctx: Context, msg: Incoming) -> Reply:
    return await card(ctx, await event_for(ctx, msg.payload))


async def rsvp(ctx: Context, msg: Incoming) -> Reply:
    """A going / maybe / can't-go tap. The event row is locked first: see storage/rsvps.py."""
    _, _, answer = msg.payload.partition(":")
    if answer not in {a.value for a in store.ANSWERS}:
        raise UserFacingError("error.expired_button")
    # Everything that needs no lock comes first: who is invited, and the calendar file (built
    # once per version of the event, ~40 ms), so the event's row is locked only for the count.
    # The process keeps the version of the event its RSVPs last read: a crowd's presses but
    # the first only lock the row, and read no more of it while it has not changed.
    event_id = number(msg.payload.split(":", 1)[0])
    known = rsvps.known(event_id) if event_id is not None else None
    if known is None:
        seen = await event_for(ctx, msg.payload)
        if answer == RsvpStatus.GOING and seen.status == "scheduled":
            ics.attachment(seen)
        event = await rsvps.lock(ctx.session, seen)
    else:
        await check_invited(ctx, known)  # before the lock; again only if the event changed
        event = await rsvps.lock(ctx.session, known)
        if event is not None and event is not known:
            await check_invited(ctx, event)
    if event is None:
        raise UserFacingError("error.expired_button")
    rsvps.remember(ctx.session, event)
    try:
        outcome = await rsvps.answer(ctx.session, event, ctx.me.id, RsvpStatus(answer), ctx.now)
    except store.Refused as exc:
        raise UserFacingError(exc.key) from None
    await tell_promoted(ctx, event, outcome.promoted)
    t, r = ctx.t, outcome.rsvp
    position = ""
    if r.status == RsvpStatus.WAITLIST:
        place = outcome.position or await store.waitlist_position(ctx.session, r)
        position = t("events.position", position=place)
    if not outcome.changed:
        text = t("events.rsvp_unchanged", status=status_label(t, r))
        return Reply(f"{text}\n{position}".strip())
    await ctx.audit("rsvp", f"event:{event.id}", status=r.status)
    if r.status == RsvpStatus.GOING:
        text = t("events.rsvp_going", title=event.title) + "\n" + when(t, event, ctx.timezone)
        return Reply(text, attachment=ics.attachment(event))  # built above unless just changed
    if r.status == RsvpStatus.WAITLIST:
        return Reply(t("events.rsvp_waitlist", title=event.title) + "\n" + position)
    return Reply(t(f"events.rsvp_{r.status}", title=event.title))


async def tell_promoted(ctx: Context, event: Event, promoted: Sequence[Rsvp]) -> None:
    """Whoever moved up from the waitlist hears it, in their own language and time zone."""
    for r in promoted:
        person = await ctx.session.get(Person, r.person_id)
        if person is None or person.is_forgotten:
            continue
        t, tz = ctx.translator_for(person), ctx.zone_for(person).key
        reply = Reply(
            t("events.promoted") + "\n\n" + details(t, event, tz),
            buttons=(
                (calendar_button(t, event.id),),
                (Button(t("events.no"), "events.rsvp", f"{event.id}:no"),),
            ),
        )
        stamp = int(ctx.now.timestamp() * 1_000_000)
        await outbox.enqueue(
            ctx.session,
            person_id=person.id,
            reply=reply,
            key=f"ev:{event.id}:seat:{r.id}:{stamp}",
            kind=OutboxKind.EVENT_UPDATE,
            now=ctx.now,
        )


async def calendar_file(ctx: Context, msg: Incoming) -> Reply:
    event = await event_for(ctx, msg.payload)
    return Reply(ctx.t("events.ics_here", title=event.title), attachment=ics.attachment(event))


async def checkin_form(ctx: Context, msg: Incoming) -> Reply:
    event = await event_for(ctx, msg.payload)
    field = FormField("code", ctx.t("events.checkin_code"), FieldKind.TEXT, max_length=20)
    return Reply(
        "",
        form=Form(
            ctx.t("events.checkin_title", title=event.title),
            "events.checkin_submit",
            (field,),
            payload=str(event.id),
        ),
    )


async def checkin_submit(ctx: Context, msg: Incoming) -> Reply:
    event = await event_for(ctx, msg.payload)
    code = msg.values.get("code", "").strip().upper()
    if not event.checkin_code or code != event.checkin_code:
        raise UserFacingError("events.checkin_bad_code")
    return await check_in(ctx, event)


async def check_in(ctx: Context, event: Event) -> Reply:
    if event.status != "scheduled" or not store.checkin_open(event, ctx.now):
        raise UserFacingError("events.checkin_closed")
    logged = await store.mark_attended(ctx.session, event, ctx.me.id, by=ctx.me.id, now=ctx.now)
    if logged is None:
        return Reply(ctx.t("events.checkin_already", title=event.title))
    await ctx.audit("event_checkin", f"event:{event.id}", interactions=logged)
    return Reply(ctx.t("events.checkin_done", title=event.title))


# ---- scheduled work -----------------------------------------------------------------------


def reminder(t: Translator, event: Event, timezone: str, now: datetime, one_hour: bool) -> Reply:
    """The day-before reminder names no interval: quiet hours may hold it for the night, and
    its details say when. The urgent one is sent at once, so it says how soon: someone who
    says "going" ten minutes before is told ten minutes, not an hour."""
    minutes = max(1, round((event.starts_at - now).total_seconds() / 60))
    if not one_hour:
        head = t("events.reminder_24h")
    elif minutes < 55:
        head = t("events.reminder_minutes", minutes=minutes)
    else:
        head = t("events.reminder_1h")
    return Reply(
        head + "\n\n" + details(t, event, timezone),
        buttons=(
            (calendar_button(t, event.id),),
            (Button(t("events.no_longer"), "events.rsvp", f"{event.id}:no"),),
        ),
    )


async def remind(app: Services) -> int:
    """Claim going RSVPs owed a reminder and queue them; returns how many were claimed.

    A reminder due while its person is paused, opted out of events or forgotten is marked
    done and not sent. The 1-hour reminder is urgent: quiet hours would hold it past the start."""
    handled = 0
    while True:
        async with app.db.transaction() as session:
            now = app.clock.now()
            due = await store.due_reminders(session, now, REMIND_BATCH)
            for r, event, person in due:
                one_hour = event.starts_at - store.BEFORE_1H <= now
                r.reminded_24h_at = r.reminded_24h_at or now
                if one_hour:
                    r.reminded_1h_at = now
                if person.is_forgotten or person.paused or "events" in person.opt_outs:
                    continue
                t, tz = app.translator_for(person), app.zone_for(person).key
                which = "r1" if one_hour else "r24"
                await outbox.enqueue(
                    session,
                    person_id=person.id,
                    reply=reminder(t, event, tz, now, one_hour),
                    key=f"ev:{event.id}:{which}:{person.id}:{int(event.starts_at.timestamp())}",
                    kind=OutboxKind.EVENT_REMINDER,
                    now=now,
                    urgent=one_hour,
                )
        handled += len(due)
        if len(due) < REMIND_BATCH:
            return handled
