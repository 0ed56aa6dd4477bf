"""The person's home page: next check-in, upcoming events with RSVP buttons, matched openings
and this year's interactions; HR and admins see their own summaries too.

Channel-neutral: Slack shows these replies as the App Home tab (`home.open`, not a command).
RSVP buttons carry `events.rsvp` with `<event id>:<going|maybe|no>`, which the events feature
answers."""

from __future__ import annotations

from datetime import date

from bot.core.markup import bold
from bot.core.types import Button, Incoming, Reply
from bot.dispatch.context import Context
from handlers import admin
from storage import home as queries
from storage.models import Role

RSVP_ACTION = "events.rsvp"
RSVP_ANSWERS = ("going", "maybe", "no")


async def home(ctx: Context, msg: Incoming) -> list[Reply]:
    me, t = ctx.me, ctx.t
    year = ctx.now.astimezone(ctx.zone).year
    this_year = (date(year, 1, 1), date(year + 1, 1, 1))
    count = await queries.interaction_count(ctx.session, me.id, *this_year)
    if me.paused:
        checkin = t("home.checkin_paused")
    elif me.next_checkin_at is not None:
        checkin = t("home.next_checkin", when=t.datetime(me.next_checkin_at, ctx.timezone))
    else:
        checkin = t("home.no_checkin")
    lines = [t("home.title", name=me.name), checkin, t("home.interactions", count=count, year=year)]
    replies = [Reply("\n".join(lines), private_only=True)]
    replies += await _events(ctx)
    replies.append(await _openings(ctx))
    if ctx.has_role(Role.HR, Role.ADMIN):
        s = await queries.hr_summary(ctx.session, ctx.now)
        text = t(
            "home.hr",
            openings=s.open_openings,
            referrals=s.waiting_referrals,
            events=s.upcoming_events,
        )
        replies.append(Reply(text, private_only=True))
    if ctx.has_role(Role.ADMIN):
        a = await queries.admin_summary(ctx.session, *this_year)
        text = t(
            "home.admin", people=a.people, joined=a.joined, interactions=a.interactions, year=year
        )
        replies.append(Reply(text, private_only=True))
        replies += await admin.home_section(ctx)  # the engagement summary and latest chart
    return replies


async def _events(ctx: Context) -> list[Reply]:
    t = ctx.t
    events = await queries.upcoming_events(ctx.session, ctx.me.id, ctx.now)
    if not events:
        return [Reply(t("home.events_title") + "\n" + t("home.no_events"), private_only=True)]
    replies = [Reply(t("home.events_title"), private_only=True)]
    for event, status in events:
        lines = [bold(event.title), t.datetime(event.starts_at, event.timezone)]
        if event.place:
            lines.append(event.place)
        if status:
            lines.append(t("home.your_rsvp", answer=t(f"home.rsvp_{status}")))
        buttons = tuple(
            Button(
                t(f"home.rsvp_{answer}"),
                RSVP_ACTION,
                f"{event.id}:{answer}",
                style="primary" if answer == status else None,
            )
            for answer in RSVP_ANSWERS
        )
        replies.append(Reply("\n".join(lines), buttons=(buttons,), private_only=True))
    return replies


async def _openings(ctx: Context) -> Reply:
    t = ctx.t
    matched = await queries.matched_openings(ctx.session, ctx.me.id)
    if not matched:
        return Reply(t("home.openings_title") + "\n" + t("home.no_openings"), private_only=True)
    lines = [t("home.openings_title")]
    for opening, _match in matched:
        where = " / ".join(x for x in (opening.department, opening.location) if x)
        lines.append(f"• {opening.title}" + (f" ({where})" if where else ""))
    lines.append(t("home.openings_more"))
    return Reply("\n".join(lines), private_only=True)
