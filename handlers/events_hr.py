"""Events as HR runs them: create (`newevent`), change, cancel, and mark attendance.

Invitations go out through the outbox in the transaction that creates the event; a change or a
cancellation bumps the event's SEQUENCE (so calendars update the entry they have) and tells
everyone who answered going, maybe or is waiting. Attendance — marked here or by the attendee's
own check-in — logs face-to-face interactions between the alumni and the employees present."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.normalize import number
from bot.core.types import (
    Button,
    FieldKind,
    Form,
    FormError,
    FormField,
    Incoming,
    Reply,
    UserFacingError,
)
from bot.dispatch.context import Context
from handlers.events import (
    calendar_button,
    details,
    event_for,
    invitation,
    tell_promoted,
)
from storage import events as store
from storage import outbox, rsvps
from storage.events import RsvpStatus
from storage.models import Event, OutboxKind

URL = re.compile(r"^https?://\S+$")
ATTENDANCE_PAGE = 20


@dataclass(frozen=True)
class Fields:
    title: str
    description: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    place: str | None
    online_url: str | None
    capacity: int | None
    rsvp_deadline: datetime | None
    segment: str


def event_form(ctx: Context, submit: str, event: Event | None = None) -> Form:
    t = ctx.t

    def local(moment: datetime | None) -> str:
        if moment is None or event is None:
            return ""
        return f"{moment.astimezone(ZoneInfo(event.timezone)):%Y-%m-%d %H:%M}"

    e = event
    return Form(
        title=t("events.form_title" if e is None else "events.edit_title"),
        submit_action=submit,
        payload=str(e.id) if e else "",
        fields=(
            FormField("title", t("events.f_title"), initial=e.title if e else "", max_length=200),
            FormField(
                "description",
                t("events.f_description"),
                FieldKind.LONG_TEXT,
                required=False,
                initial=e.description if e else "",
                max_length=2000,
            ),
            FormField(
                "timezone",
                t("events.f_timezone"),
                FieldKind.TIMEZONE,
                initial=e.timezone if e else ctx.timezone,
                max_length=64,
            ),
            FormField(
                "starts_at",
                t("events.f_starts_at"),
                FieldKind.DATETIME,
                initial=local(e.starts_at) if e else "",
                hint=t("events.datetime_hint"),
                max_length=40,
            ),
            FormField(
                "ends_at",
                t("events.f_ends_at"),
                FieldKind.DATETIME,
                initial=local(e.ends_at) if e else "",
                hint=t("events.datetime_hint"),
                max_length=40,
            ),
            FormField(
                "place",
                t("events.f_place"),
                required=False,
                initial=(e.place or "") if e else "",
                max_length=300,
            ),
            FormField(
                "online_url",
                t("events.f_online_url"),
                required=False,
                initial=(e.online_url or "") if e else "",
                max_length=500,
            ),
            FormField(
                "capacity",
                t("events.f_capacity"),
                FieldKind.NUMBER,
                required=False,
                initial=str(e.capacity) if e and e.capacity else "",
                hint=t("events.capacity_hint"),
                max_length=7,
            ),
            FormField(
                "rsvp_deadline",
                t("events.f_rsvp_deadline"),
                FieldKind.DATETIME,
                required=False,
                initial=local(e.rsvp_deadline) if e else "",
                hint=t("events.datetime_hint"),
                max_length=40,
            ),
            FormField(
                "segment",
                t("events.f_segment"),
                initial=e.segment if e else "all",
                hint=t("events.segment_hint"),
                max_length=200,
            ),
        ),
    )


def in_zone(ctx: Context, text: str, zone: ZoneInfo, field: str) -> datetime:
    """A form time is wall-clock time in the *event's* zone. The form parser gave a time typed
    without an offset the asker's own zone; that is undone here, while an offset typed
    explicitly is kept as the instant it names."""
    try:
        value = datetime.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        raise FormError({field: "form.bad_datetime"}) from None
    naive = value.replace(tzinfo=None)
    if value.tzinfo is None or value.utcoffset() == naive.replace(tzinfo=ctx.zone).utcoffset():
        return naive.replace(tzinfo=zone)
    return value.astimezone(zone)


def parse(ctx: Context, v: dict[str, str]) -> Fields:
    """The form's values checked together; FormError names the first field to fix."""
    zone = ZoneInfo(v["timezone"])
    starts = in_zone(ctx, v["starts_at"], zone, "starts_at")
    ends = in_zone(ctx, v["ends_at"], zone, "ends_at")
    if starts <= ctx.now:
        raise FormError({"starts_at": "events.bad_start_past"})
    if ends <= starts:
        raise FormError({"ends_at": "events.bad_end"})
    capacity = None
    if v.get("capacity"):
        capacity = int(v["capacity"])
        if capacity <= 0:
            raise FormError({"capacity": "events.bad_capacity"})
    deadline = None
    if v.get("rsvp_deadline"):
        deadline = in_zone(ctx, v["rsvp_deadline"], zone, "rsvp_deadline")
        if deadline > starts:
            raise FormError({"rsvp_deadline": "events.bad_deadline"})
    place, url = v.get("place") or None, v.get("online_url") or None
    if url is not None and not URL.match(url):
        raise FormError({"online_url": "events.bad_url"})
    if place is None and url is None:
        raise FormError({"place": "events.need_place"})
    try:
        segment = str(store.parse_segment(v.get("segment") or "all"))
    except ValueError:
        raise FormError({"segment": "events.bad_segment"}) from None
    return Fields(
        v["title"],
        v.get("description", ""),
        v["timezone"],
        starts,
        ends,
        place,
        url,
        capacity,
        deadline,
        segment,
    )


async def new(ctx: Context, msg: Incoming) -> Reply:
    """`newevent`: the form."""
    return Reply("", form=event_form(ctx, "events.create"))


async def create(ctx: Context, msg: Incoming) -> Reply:
    f = parse(ctx, msg.values)
    code = store.new_checkin_code()
    while await store.code_in_use(ctx.session, code, ctx.now):
        code = store.new_checkin_code()
    event = Event(
        uid=store.new_uid(),
        sequence=0,
        status="scheduled",
        checkin_code=code,
        owner_id=ctx.me.id,
        created_at=ctx.now,
        updated_at=ctx.now,
        **asdict(f),
    )
    ctx.session.add(event)
    await ctx.session.flush()
    invited = 0
    for person in await store.audience(ctx.session, store.parse_segment(event.segment)):
        if person.id == ctx.me.id:
            continue
        t, tz = ctx.translator_for(person), ctx.zone_for(person).key
        invited += await outbox.enqueue(
            ctx.session,
            person_id=person.id,
            reply=invitation(t, event, tz),
            key=f"ev:{event.id}:invite:{person.id}",
            kind=OutboxKind.EVENT,
            now=ctx.now,
        )
    await ctx.audit("event_create", f"event:{event.id}", invited=invited)
    text = ctx.t("events.created", title=event.title, invited=invited, code=code)
    return Reply(text, buttons=((Button(ctx.t("events.open"), "events.open", str(event.id)),),))


async def edit(ctx: Context, msg: Incoming) -> Reply:
    event = await event_for(ctx, msg.payload)
    if event.status != "scheduled":
        raise UserFacingError("events.refused_cancelled")
    return Reply("", form=event_form(ctx, "events.update", event))


async def notify(ctx: Context, event: Event, head_key: str, skip: set[int]) -> int:
    """Tell everyone who answered going, maybe or is waiting (one message per SEQUENCE)."""
    told = 0
    for _, person in await store.with_people(ctx.session, event.id, store.NOTIFIED):
        if person.id in skip:
            continue
        t, tz = ctx.translator_for(person), ctx.zone_for(person).key
        reply = Reply(
            t(head_key) + "\n\n" + details(t, event, tz), buttons=((calendar_button(t, event.id),),)
        )
        told += await outbox.enqueue(
            ctx.session,
            person_id=person.id,
            reply=reply,
            key=f"ev:{event.id}:v{event.sequence}:{person.id}",
            kind=OutboxKind.EVENT_UPDATE,
            now=ctx.now,
        )
    return told


async def update(ctx: Context, msg: Incoming) -> Reply:
    event = await event_for(ctx, msg.payload, lock=True)
    if event.status != "scheduled":
        raise UserFacingError("events.refused_cancelled")
    f = parse(ctx, msg.values)
    going = await store.going_count(ctx.session, event.id)
    if f.capacity is not None and f.capacity < going:
        raise FormError({"capacity": "events.capacity_below_going"}, going=going)
    changed = [k for k, v in asdict(f).items() if getattr(event, k) != v]
    if not changed:
        return Reply(ctx.t("events.unchanged"))
    moved = "starts_at" in changed
    for key in changed:
        setattr(event, key, getattr(f, key))
    event.sequence += 1
    event.updated_at = ctx.now
    if moved:
        everyone = await store.with_people(ctx.session, event.id)
        store.reset_reminders([r for r, _ in everyone], event, ctx.now)
    promoted = await rsvps.promote(ctx.session, event, ctx.now)
    await tell_promoted(ctx, event, promoted)
    told = await notify(ctx, event, "events.changed", {r.person_id for r in promoted})
    await ctx.audit("event_update", f"event:{event.id}", changed=changed, sequence=event.sequence)
    return Reply(ctx.t("events.updated", told=told + len(promoted)))


async def cancel(ctx: Context, msg: Incoming) -> Reply:
    """Asks once, then (payload `ID:yes`) cancels and tells everyone who answered."""
    event = await event_for(ctx, msg.payload, lock=True)
    if event.status != "scheduled":
        raise UserFacingError("events.refused_cancelled")
    if not msg.payload.endswith(":yes"):
        return Reply(
            ctx.t("events.cancel_confirm", title=event.title),
            buttons=(
                (
                    Button(
                        ctx.t("events.cancel_yes"), "events.cancel", f"{event.id}:yes", "danger"
                    ),
                    Button(ctx.t("events.cancel_no"), "events.open", str(event.id)),
                ),
            ),
        )
    event.status = "cancelled"
    event.sequence += 1
    event.updated_at = ctx.now
    told = await notify(ctx, event, "events.cancelled_notice", set())
    await ctx.audit("event_cancel", f"event:{event.id}", told=told)
    return Reply(ctx.t("events.cancelled_done", title=event.title, told=told))


async def attendance(ctx: Context, msg: Incoming) -> Reply:
    """Who is expected and who came; a button per person not yet marked (a page at a time)."""
    event = await event_for(ctx, msg.payload)
    return await attendance_page(ctx, event, msg.payload.partition(":")[2], "")


async def attendance_page(ctx: Context, event: Event, offset_text: str, head: str) -> Reply:
    t = ctx.t
    if ctx.now < event.starts_at - store.CHECKIN_OPENS:
        raise UserFacingError("events.attendance_too_early")
    offset = number(offset_text) or 0
    rows = [
        (r, p)
        for r, p in await store.with_people(ctx.session, event.id)
        if r.attended or r.status in (RsvpStatus.GOING, RsvpStatus.MAYBE)
    ]
    came = [p.name for r, p in rows if r.attended]
    open_ = [(r, p) for r, p in rows if not r.attended]
    lines = [head] if head else []
    lines.append(t("events.attendance_title", title=event.title, came=len(came), total=len(rows)))
    lines += [f"✅ {name}" for name in came]
    page = open_[offset : offset + ATTENDANCE_PAGE]
    buttons: list[tuple[Button, ...]] = [
        (Button(f"☐ {p.name[:60]}", "events.attend", f"{event.id}:{p.id}"),) for _, p in page
    ]
    if offset + ATTENDANCE_PAGE < len(open_):
        more = f"{event.id}:{offset + ATTENDANCE_PAGE}"
        buttons.append((Button(t("events.more"), "events.attendance", more),))
    return Reply("\n".join(lines), buttons=tuple(buttons))


async def attend(ctx: Context, msg: Incoming) -> Reply:
    event = await event_for(ctx, msg.payload)
    person_id = number(msg.payload.partition(":")[2])
    if person_id is None or await store.rsvp_of(ctx.session, event.id, person_id) is None:
        raise UserFacingError("error.expired_button")
    if ctx.now < event.starts_at - store.CHECKIN_OPENS:
        raise UserFacingError("events.attendance_too_early")
    logged = await store.mark_attended(
        ctx.session, event, int(person_id), by=ctx.me.id, now=ctx.now
    )
    await ctx.audit("event_attend", f"event:{event.id}", person=int(person_id), interactions=logged)
    return await attendance_page(ctx, event, "", ctx.t("events.attendance_marked"))
