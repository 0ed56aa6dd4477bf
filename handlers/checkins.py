"""Check-ins and two-sided nudges — the heart of the engagement engine.

Alumni are asked, on their own cadence and at their own local time, how they are and whether
they caught up with anyone from the company; one tap logs it, and "not yet" suggests the former
colleague or manager they have not talked to for the longest time, with a "say hello" button
that sends that person a friendly intro. Current employees get a monthly digest of former
teammates and reports they have lost touch with (the research: former managers matter most).

Command: checkin. Buttons: checkin.answer, checkin.met, checkin.hello, checkin.hello_back (the
intro's "reply" and "let's meet" are handlers/bridge.py's).
Scheduled work: tick_checkins, tick_nudges (bot/runtime/scheduler.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import local_date
from bot.core.i18n import Translator
from bot.core.normalize import number
from bot.core.types import Button, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from bot.dispatch.services import Addressing, Services
from handlers import bridge
from storage import engagement, interactions
from storage.engagement import REACHABLE
from storage.models import OutboxKind, Person
from storage.outbox import enqueue, enqueue_many
from storage.schedule import at_local, next_due, planned, spread_minute

KIND_CODES = {"p": "in_person", "o": "online"}


# -- what people see ------------------------------------------------------------------------


def checkin_reply(t: Translator, name: str) -> Reply:
    return Reply(
        t("checkin.prompt", name=name),
        buttons=(
            (
                Button(t("checkin.met_in_person"), "checkin.answer", "p"),
                Button(t("checkin.talked_online"), "checkin.answer", "o"),
            ),
            (
                Button(t("checkin.not_yet"), "checkin.answer", "no"),
                Button(t("checkin.skip"), "checkin.answer", "skip"),
            ),
        ),
    )


def hello_button(t: Translator, other: Person) -> Button:
    return Button(t("checkin.say_hello", name=other.name)[:75], "checkin.hello", str(other.id))


async def people_by_id(ctx: Context, ids: list[int]) -> dict[int, Person]:
    if not ids:
        return {}
    rows = await ctx.session.scalars(
        select(Person).where(Person.id.in_(ids), Person.forgotten_at.is_(None))
    )
    return {p.id: p for p in rows}


async def suggestions(
    ctx: Context, limit: int = 3
) -> tuple[list[Person], dict[int, str], dict[int, date]]:
    kinds = await interactions.relation_kinds(ctx.session, ctx.me.id)
    found = await people_by_id(ctx, list(kinds))
    kinds = {k: v for k, v in kinds.items() if k in found}
    last = await interactions.last_contacts(ctx.session, ctx.me.id, kinds)
    return [found[o] for o in interactions.suggest(kinds, last, limit)], kinds, last


def last_seen(t: Translator, last: dict[int, date], other: int) -> str:
    return t.date(last[other]) if other in last else t("checkin.never")


def relation_label(t: Translator, relation: str, *people: Person, plural: bool = False) -> str:
    """ "元上司" only where it is true: while everyone named still works here (nobody has a
    `left_on`), a manager is "上司" and a colleague "同僚"."""
    now = relation != "other" and all(p.left_on is None for p in people)
    return t(f"relation.{relation}{'s' if plural else ''}{'_now' if now else ''}")


def reach_line(t: Translator, person: Person, label: str, last: dict[int, date]) -> str:
    when = t("checkin.last", when=last_seen(t, last, person.id))
    return f"• {person.name} ({label}; {when})"


# -- commands and buttons -------------------------------------------------------------------


async def checkin(ctx: Context, msg: Incoming) -> Reply:
    """This year's contacts (colleagues vs managers, in person vs online) and who to reach."""
    t, today = ctx.t, ctx.today
    counts = await interactions.year_counts(ctx.session, ctx.me.id, date(today.year, 1, 1), today)
    lines = [t("checkin.year_title", year=today.year)]
    for relation in ("manager", "report", "colleague", "other"):
        in_person, online = counts[(relation, "in_person")], counts[(relation, "online")]
        if in_person or online or relation in ("manager", "colleague"):
            lines.append(
                t(
                    "checkin.year_line",
                    who=relation_label(t, relation, ctx.me, plural=True),
                    in_person=in_person,
                    online=online,
                )
            )
    people, kinds, last = await suggestions(ctx)
    if people:
        lines.append(t("checkin.reach_out"))
        lines += [reach_line(t, p, relation_label(t, kinds[p.id], ctx.me, p), last) for p in people]
    return Reply(
        "\n".join(lines), buttons=tuple((hello_button(t, p),) for p in people), private_only=True
    )


async def answer(ctx: Context, msg: Incoming) -> Reply:
    """The check-in's one-tap answer: with whom (in person / online), or a suggestion."""
    t = ctx.t
    ctx.me.last_checkin_at = ctx.now
    ctx.me.unanswered_checkins = 0  # any answer brings back the cadence they chose
    if msg.payload == "skip":  # this one is over; the next comes one cadence later, as planned
        after = planned_checkins(ctx, ctx.me, ctx.now, 1)
        if not after:
            return Reply(t("checkin.skipped_none"))
        local = after[0].astimezone(ctx.zone)
        return Reply(t("checkin.skipped", date=t.date(local.date()), time=f"{local:%H:%M}"))
    if msg.payload in KIND_CODES:
        kinds = await interactions.relation_kinds(ctx.session, ctx.me.id)
        found = await people_by_id(ctx, list(kinds))
        last = await interactions.last_contacts(ctx.session, ctx.me.id, found)
        recent = sorted(
            found.values(), key=lambda p: (last.get(p.id, date.min), p.id), reverse=True
        )
        rows = [(Button(p.name[:75], "checkin.met", f"{p.id}:{msg.payload}"),) for p in recent[:6]]
        rows.append((Button(t("checkin.someone_else"), "log.form", msg.payload),))
        return Reply(t("checkin.who"), buttons=tuple(rows))
    if msg.payload != "no":
        raise UserFacingError("error.expired_button")
    people, kinds, last = await suggestions(ctx, limit=1)
    if not people:
        return Reply(t("checkin.no_relations"))
    other = people[0]
    text = t(
        "checkin.suggest",
        name=other.name,
        relation=relation_label(t, kinds[other.id], ctx.me, other),
        when=last_seen(t, last, other.id),
    )
    return Reply(
        text, buttons=((hello_button(t, other), Button(t("checkin.later"), "checkin.later")),)
    )


async def later(ctx: Context, msg: Incoming) -> Reply:
    ctx.me.unanswered_checkins = 0
    return Reply(ctx.t("checkin.ok_later"))


async def met(ctx: Context, msg: Incoming) -> Reply:
    """One tap: log a contact with this person today (both sides' taps count once)."""
    other_id, _, code = msg.payload.partition(":")
    found = number(other_id)
    if found is None or code not in KIND_CODES:
        raise UserFacingError("error.expired_button")
    other = (await people_by_id(ctx, [found])).get(found)
    if other is None or other.id == ctx.me.id:
        raise UserFacingError("log.nobody_anymore")
    today = ctx.today
    ctx.me.unanswered_checkins = 0
    new = await interactions.record(
        ctx.session, ctx.me.id, other.id, KIND_CODES[code], today,
        source="checkin", logged_by=ctx.me.id, now=ctx.now,
    )  # fmt: skip
    key = "checkin.logged" if new else "checkin.already_logged"
    return Reply(ctx.t(key, name=other.name))


async def hello(ctx: Context, msg: Incoming) -> Reply:
    """Send a friendly intro to a former colleague or manager, where they can be reached."""
    return await _greet(ctx, msg.payload, "hello")


async def hello_back(ctx: Context, msg: Incoming) -> Reply:
    return await _greet(ctx, msg.payload, "hello_back")


async def _greet(ctx: Context, payload: str, kind: str) -> Reply:
    found = number(payload)
    if found is None:
        raise UserFacingError("error.expired_button")
    me, other_id = ctx.me, found
    other = await ctx.session.get(Person, other_id)
    if other is None or other.is_forgotten or other.id == me.id:
        raise UserFacingError("log.nobody_anymore")
    reachable = await ctx.session.scalar(select(REACHABLE.where(Person.id == other.id)))
    if not reachable or other.paused or other.consent_at is None or "nudges" in other.opt_outs:
        return Reply(ctx.t("checkin.cannot_reach", name=other.name))
    kinds = await interactions.relation_kinds(ctx.session, other.id)
    theirs = ctx.translator_for(other)
    relation = relation_label(theirs, kinds.get(me.id, "other"), me, other)
    text = theirs(f"checkin.{kind}_received", name=me.name, relation=relation)
    reply = Reply(
        text,
        buttons=(
            (
                Button(theirs("checkin.say_hello_back"), "checkin.hello_back", str(me.id)),
                Button(theirs("checkin.log_talked"), "checkin.met", f"{me.id}:o"),
            ),
            bridge.intro_buttons(theirs, me.id),  # answers travel back to wherever I am
        ),
    )
    today = ctx.today.isoformat()
    queued = await enqueue(
        ctx.session, person_id=other.id, reply=reply, key=f"{kind}:{me.id}:{other.id}:{today}",
        kind=OutboxKind.INTRO, now=ctx.now,
    )  # fmt: skip
    await ctx.audit("intro", f"person:{other.id}", kind=kind, queued=queued)
    return Reply(
        ctx.t("checkin.hello_sent" if queued else "checkin.hello_already", name=other.name)
    )


# -- when will it write to me? ---------------------------------------------------------------

BACKOFF_AFTER = 3  # unanswered check-ins in a row: the cadence stretches to twice its period
STOP_AFTER = 6  # and then check-ins stop; only what the person asks for is sent


def backoff(unanswered: int) -> int:
    """How many periods apart check-ins are for someone who left `unanswered` unanswered."""
    return 2 if unanswered >= BACKOFF_AFTER else 1


def why_none_planned(person: Person) -> str | None:
    """Why no check-in is planned for this person (a message key), or None when some are."""
    if person.left_on is None:
        return "schedule.none_employee"  # check-ins are for alumni; employees get nudges
    if person.consent_at is None:
        return "schedule.none_consent"
    if person.paused:
        return "schedule.none_paused"
    if "checkins" in person.opt_outs or person.checkin_cadence == "off":
        return "schedule.none_off"
    if person.unanswered_checkins >= STOP_AFTER:
        return "schedule.none_unanswered"
    return None


def planned_checkins(who: Addressing, person: Person, now: datetime, count: int) -> list[datetime]:
    """The next `count` check-ins as the ticks will send them: working days only, at the
    person's time, in their zone (`alumni-bot schedule`, and `settings`)."""
    if why_none_planned(person) is not None:
        return []
    window = who.settings.checkins
    minute = person.checkin_minute
    if minute is None:
        minute = spread_minute(person.id, window.window_start, window.window_end)
    zone, days = who.zone_for(person), who.workdays_for(person)
    stretch = backoff(person.unanswered_checkins)
    return planned(person.checkin_cadence, minute, zone, now, count, days, person.next_checkin_at,
                   stretch)  # fmt: skip


# -- scheduled work -------------------------------------------------------------------------


def _minute(app: Services, row: engagement.Due) -> int:
    return row.local_minute(app.settings.checkins.window_start, app.settings.checkins.window_end)


def _first(
    app: Services, row: engagement.Due, now: datetime, cadence: str | None = None
) -> datetime | None:
    """A newcomer's first time: the next preferred local time on a working day."""
    zone, days = app.zone_for(row), app.workdays_for(row)
    return next_due(cadence or row.cadence, _minute(app, row), zone, now, first=True, days=days)


def moved_off_a_day_off(app: Services, row: engagement.Due, now: datetime) -> datetime | None:
    """When today is not a working day where this person lives (a weekend, a holiday, a
    closure), the time on the next working day, at the same local time: work due today moves
    there instead of being sent, or dropped. None on a working day."""
    zone, days = app.zone_for(row), app.workdays_for(row)
    today = local_date(now, zone)
    if days.is_working(today):
        return None
    return at_local(days.next_working(today), _minute(app, row), zone)


async def tick_checkins(app: Services, *, any_day: bool = False) -> int:
    """Schedule newcomers, then claim due check-ins batch by batch and queue one each. On a day
    off they move to the next working day, unless `any_day` (the demo: a newcomer's first run
    shows a check-in even on a Saturday)."""
    now, size = app.clock.now(), app.settings.checkins.batch_size
    column = Person.next_checkin_at
    buttons: dict[str, dict[str, Any]] = {}  # the same in every message of a language
    await engagement.schedule_newcomers(
        app.db, column, engagement.CHECKIN, size, lambda r: _first(app, r, now)
    )

    async def batch() -> tuple[int, int]:
        async with app.db.transaction() as session:
            rows = await engagement.due(session, column, engagement.CHECKIN, now, size)
            messages: list[tuple[int, str, dict[str, Any]]] = []
            times: list[tuple[int, datetime | None]] = []
            asked: list[int] = []
            for r in rows:
                zone = app.zone_for(r)
                moved = None if any_day else moved_off_a_day_off(app, r, now)
                if moved is not None:
                    times.append((r.id, moved))
                    continue
                days, stretch = app.workdays_for(r), backoff(r.unanswered)
                later = next_due(r.cadence, _minute(app, r), zone, now, False, days, stretch)
                times.append((r.id, later))
                if r.paused or "checkins" in r.opt_outs or r.unanswered >= STOP_AFTER:
                    continue  # the next one comes on time; a stale check-in is no use
                t = app.translator_for(r)
                if t.locale not in buttons:
                    buttons[t.locale] = checkin_reply(t, "").to_dict()
                text = t("checkin.prompt", name=r.name)
                notes = {BACKOFF_AFTER: "checkin.backoff", STOP_AFTER - 1: "checkin.last"}
                if r.unanswered in notes:  # the first stretched one, and the last: said once
                    text += "\n\n" + t(notes[r.unanswered])
                asked.append(r.id)
                key = f"checkin:{r.id}:{local_date(now, zone).isoformat()}"
                messages.append((r.id, key, {**buttons[t.locale], "text": text}))
            await enqueue_many(session, messages, kind=OutboxKind.CHECKIN, now=now)
            await engagement.reschedule(session, column, times, asked)
        return len(rows), len(messages)

    return await engagement.drain(app.db, batch, size)


async def tick_nudges(app: Services, *, any_day: bool = False) -> int:
    """Monthly, current employees hear which former teammates and reports they lost touch with."""
    now, settings = app.clock.now(), app.settings.checkins
    column = Person.next_nudge_at
    every, quiet_for = (
        timedelta(days=settings.nudge_every_days),
        timedelta(days=settings.nudge_after_days),
    )
    await engagement.schedule_newcomers(
        app.db,
        column,
        engagement.NUDGE,
        settings.batch_size,
        lambda r: _first(app, r, now, "weekly"),
    )

    async def batch() -> tuple[int, int]:
        sent = 0
        async with app.db.transaction() as session:
            rows = await engagement.due(session, column, engagement.NUDGE, now, settings.batch_size)
            times: list[tuple[int, datetime | None]] = []
            for r in rows:
                moved = None if any_day else moved_off_a_day_off(app, r, now)
                times.append((r.id, moved or now + every))
                if moved is not None or r.paused or "nudges" in r.opt_outs:
                    continue
                local_today = local_date(now, app.zone_for(r))
                reply = await _nudge(app, session, r, local_today - quiet_for)
                if reply is not None:
                    key = f"nudge:{r.id}:{local_today.isoformat()}"
                    sent += await enqueue(
                        session,
                        person_id=r.id,
                        reply=reply,
                        key=key,
                        kind=OutboxKind.NUDGE,
                        now=now,
                    )
            await engagement.reschedule(session, column, times)
        return len(rows), sent

    return await engagement.drain(app.db, batch, settings.batch_size)


async def _nudge(
    app: Services, session: AsyncSession, row: engagement.Due, since: date
) -> Reply | None:
    kinds = await interactions.relation_kinds(session, row.id)
    alumni = {
        p.id: p
        for p in await session.scalars(
            select(Person).where(
                Person.id.in_(list(kinds)),
                Person.left_on.isnot(None),
                Person.forgotten_at.is_(None),
            )
        )
    }
    last = await interactions.last_contacts(session, row.id, alumni)
    quiet = {o: kinds[o] for o in alumni if last.get(o, date.min) < since}
    if not quiet:
        return None
    t = app.translator_for(row)
    chosen = interactions.suggest(quiet, last, limit=5)
    lines = [t("nudge.title", name=row.name)]
    lines += [reach_line(t, alumni[o], t(f"relation.{quiet[o]}"), last) for o in chosen]  # alumni
    return Reply("\n".join(lines), buttons=tuple((hello_button(t, alumni[o]),) for o in chosen))
