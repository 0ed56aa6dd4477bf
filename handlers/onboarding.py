"""Joining, consent, profile and settings — how a person enters and shapes their presence.

Commands: help, join CODE, profile, settings, invite (HR/admin).
Buttons: consent, language, time zone, edit profile / settings, opt-out toggles."""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.forms import EMAIL
from bot.core.normalize import distinct_items, tidy
from bot.core.platforms import invite_links
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
from handlers import bridge, invitations
from storage import invites, people
from storage.models import Cadence, Comeback, Person
from storage.schedule import spread_minute

TIMEZONES = (
    "Asia/Tokyo",
    "Asia/Singapore",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)
OPT_OUTS = ("checkins", "surveys", "nudges", "jobs", "perks", "events", "broadcasts")
LIST_SPLIT = re.compile(r"[;；,，、/\n]+")
MAX_LIST_ITEMS = 50
MAX_ITEM_CHARS = 60


async def help_(ctx: Context, msg: Incoming) -> Reply:
    joined = ctx.person is not None
    lines = [ctx.t("help.title" if joined else "help.title_guest")]
    lines += [f"{ctx.command(name)} — {ctx.t(f'help.cmd.{name}')}" for name in ctx.commands]
    return Reply("\n".join(lines))


async def join(ctx: Context, msg: Incoming) -> Reply:
    if not msg.args:
        raise UserFacingError("join.usage")
    if ctx.person is not None:
        if ctx.person.consent_at is None:  # linked (the console, an import) but never agreed
            return await consent_prompt(ctx, msg)
        raise UserFacingError("join.already")
    invite = await invites.find(ctx.session, msg.args[0])
    problem = invites.problem(invite, ctx.now)
    if problem or invite is None:
        ctx.audit("join_refused", msg.args[0][:32], allowed=False, reason=problem)
        raise UserFacingError(problem or "join.unknown_code")
    if invite.person_id is not None:
        person = await ctx.session.get(Person, invite.person_id, populate_existing=True)
        if person is None or person.is_forgotten:
            raise UserFacingError("join.unknown_code")
        await ctx.session.refresh(person, ["identities", "grants"])
        if any(
            i.channel == ctx.identity.channel and i.workspace == ctx.identity.workspace
            for i in person.identities
        ):
            ctx.audit("join_refused", invite.code, allowed=False, reason="identity_taken")
            raise UserFacingError("join.taken")
    else:
        person = Person(
            name=ctx.identity.display_name or ctx.t("join.unnamed"),
            created_at=ctx.now,
            updated_at=ctx.now,
            skills=[],
            desired_roles=[],
            opt_outs=[],
        )
        ctx.session.add(person)
        await ctx.session.flush()
        await ctx.session.refresh(person, ["identities", "grants"])
    invite.uses += 1
    ctx.identity.person_id = person.id
    ctx.identity.priority = len(person.identities)
    if person.locale is None:
        person.locale = ctx.locale
    ctx.person, ctx.roles = person, people.roles_of(person)
    ctx.audit("join", f"person:{person.id}", channel=ctx.identity.channel)
    if person.consent_at is not None:
        return Reply(ctx.t("join.linked_again", name=person.name))
    return await consent_prompt(ctx, msg)


async def consent_prompt(ctx: Context, msg: Incoming) -> Reply:
    return Reply(
        ctx.t("consent.prompt", name=ctx.me.name),
        buttons=(
            (
                Button(ctx.t("consent.yes"), "onboarding.consent", "yes", style="primary"),
                Button(ctx.t("consent.no"), "onboarding.consent", "no"),
            ),
        ),
    )


async def consent(ctx: Context, msg: Incoming) -> Reply:
    person = ctx.me
    if msg.payload != "yes":
        return Reply(ctx.t("consent.declined"))
    if person.consent_at is None:
        person.consent_at = ctx.now
        person.consent_version = ctx.settings.privacy.consent_version
        ctx.audit("consent", f"person:{person.id}", version=person.consent_version)
    return Reply(
        ctx.t("consent.thanks") + "\n" + ctx.t("onboarding.ask_locale"),
        buttons=(
            (
                Button("日本語", "onboarding.locale", "ja"),
                Button("English", "onboarding.locale", "en"),
            ),
        ),
    )


async def choose_locale(ctx: Context, msg: Incoming) -> Reply:
    if msg.payload not in ("ja", "en"):
        raise UserFacingError("error.expired_button")
    ctx.me.locale = ctx.locale = msg.payload
    rows = tuple((Button(tz, "onboarding.tz", tz),) for tz in TIMEZONES)
    return Reply(ctx.t("onboarding.ask_timezone"), buttons=rows)


async def choose_timezone(ctx: Context, msg: Incoming) -> Reply:
    ctx.me.timezone = valid_timezone(msg.payload)
    ctx.me.updated_at = ctx.now
    return Reply(
        ctx.t("onboarding.done", timezone=ctx.me.timezone) + "\n\n" + (await help_(ctx, msg)).text
    )


def valid_timezone(name: str) -> str:
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise UserFacingError("settings.bad_timezone") from None
    return name.strip()


def split_list(text: str, field: str) -> list[str]:
    items = distinct_items(LIST_SPLIT.split(text))
    if len(items) > MAX_LIST_ITEMS or any(len(i) > MAX_ITEM_CHARS for i in items):
        raise FormError({field: "profile.list_too_long"}, max=MAX_LIST_ITEMS, chars=MAX_ITEM_CHARS)
    return items


def profile_text(ctx: Context, person: Person) -> str:
    t, none = ctx.t, ctx.t("profile.none")
    rows = [
        (t("profile.name"), person.name + (f"（{person.name_kana}）" if person.name_kana else "")),
        (
            t("profile.department"),
            " / ".join(x for x in (person.department, person.title) if x) or none,
        ),
        (t("profile.skills"), ", ".join(person.skills) or none),
        (t("profile.desired_roles"), ", ".join(person.desired_roles) or none),
        (t("profile.location"), person.location or none),
        (t("profile.comeback"), t(f"comeback.{person.comeback}")),
        (t("profile.language"), t(f"locale.{person.locale or ctx.locale}")),
        (t("profile.timezone"), ctx.timezone),
    ]
    if person.left_on:
        rows.insert(2, (t("profile.left_on"), t.date(person.left_on)))
    channels = ", ".join(f"{i.channel}{'' if i.reachable else ' ✗'}" for i in person.identities)
    rows.append((t("profile.channels"), channels or none))
    return "\n".join([t("profile.title")] + [f"• {k}: {v}" for k, v in rows])


async def profile(ctx: Context, msg: Incoming) -> Reply:
    await ctx.session.refresh(ctx.me, ["identities"])
    where, choose = await bridge.places(ctx)  # identities, and where the bot writes first
    return Reply(
        profile_text(ctx, ctx.me) + (f"\n\n{where}" if where else ""),
        buttons=((Button(ctx.t("profile.edit"), "profile.edit"),), *choose),
        private_only=True,
    )


async def profile_edit(ctx: Context, msg: Incoming) -> Reply:
    p, t = ctx.me, ctx.t
    comeback = tuple((c.value, t(f"comeback.{c.value}")) for c in Comeback)
    return Reply(
        "",
        form=Form(
            title=t("profile.form_title"),
            submit_action="profile.save",
            fields=(
                FormField(
                    "skills",
                    t("profile.skills"),
                    required=False,
                    initial="; ".join(p.skills),
                    hint=t("profile.list_hint"),
                ),
                FormField(
                    "desired_roles",
                    t("profile.desired_roles"),
                    required=False,
                    initial="; ".join(p.desired_roles),
                    hint=t("profile.list_hint"),
                ),
                FormField(
                    "location",
                    t("profile.location"),
                    required=False,
                    initial=p.location or "",
                    max_length=200,
                ),
                FormField(
                    "comeback",
                    t("profile.comeback"),
                    FieldKind.CHOICE,
                    choices=comeback,
                    initial=p.comeback,
                ),
            ),
        ),
    )


async def profile_save(ctx: Context, msg: Incoming) -> Reply:
    p, v = ctx.me, msg.values
    p.skills = split_list(v.get("skills", ""), "skills")
    p.desired_roles = split_list(v.get("desired_roles", ""), "desired_roles")
    p.location = tidy(v.get("location", "")) or None
    if v.get("comeback") in {c.value for c in Comeback}:
        p.comeback = v["comeback"]
    p.updated_at = ctx.now
    await ctx.session.refresh(p, ["identities"])
    return Reply(ctx.t("profile.saved") + "\n\n" + profile_text(ctx, p), private_only=True)


def settings_text(ctx: Context, p: Person) -> str:
    t = ctx.t
    quiet = (
        p.quiet_start or ctx.settings.privacy.quiet_start,
        p.quiet_end or ctx.settings.privacy.quiet_end,
    )
    lines = [
        t("settings.title"),
        f"• {t('profile.language')}: {t(f'locale.{ctx.locale}')}",
        f"• {t('profile.timezone')}: {ctx.timezone}",
        f"• {t('settings.quiet_hours')}: {quiet[0]:%H:%M}–{quiet[1]:%H:%M}",
        f"• {t('settings.cadence')}: {t(f'cadence.{p.checkin_cadence}')}"
        f" ({checkin_time(ctx, p):%H:%M})",
        f"• {t('settings.paused')}: {t('yes' if p.paused else 'no')}",
    ]
    lines += [
        f"• {t(f'optout.{f}')}: {t('settings.off' if f in p.opt_outs else 'settings.on')}"
        for f in OPT_OUTS
    ]
    return "\n".join(lines)


async def settings(ctx: Context, msg: Incoming) -> Reply:
    p = ctx.me
    toggles = [Button(t_label(ctx, f, f in p.opt_outs), "settings.toggle", f) for f in OPT_OUTS]
    rows = [tuple(toggles[i : i + 2]) for i in range(0, len(toggles), 2)]
    return Reply(
        settings_text(ctx, p),
        buttons=((Button(ctx.t("settings.edit"), "settings.edit"),), *rows),
        private_only=True,
    )


def t_label(ctx: Context, feature: str, off: bool) -> str:
    return ctx.t(
        "settings.turn_on" if off else "settings.turn_off", feature=ctx.t(f"optout.{feature}")
    )


async def settings_toggle(ctx: Context, msg: Incoming) -> Reply:
    if msg.payload not in OPT_OUTS:
        raise UserFacingError("error.expired_button")
    p = ctx.me
    outs = set(p.opt_outs)
    outs.symmetric_difference_update({msg.payload})
    p.opt_outs = sorted(outs)
    p.updated_at = ctx.now
    return await settings(ctx, msg)


async def settings_edit(ctx: Context, msg: Incoming) -> Reply:
    p, t = ctx.me, ctx.t
    q = ctx.settings.privacy
    return Reply(
        "",
        form=Form(
            title=t("settings.form_title"),
            submit_action="settings.save",
            fields=(
                FormField(
                    "locale",
                    t("profile.language"),
                    FieldKind.CHOICE,
                    choices=(("ja", "日本語"), ("en", "English")),
                    initial=ctx.locale,
                ),
                FormField(
                    "timezone",
                    t("profile.timezone"),
                    FieldKind.TIMEZONE,
                    initial=ctx.timezone,
                    hint=t("settings.timezone_hint"),
                    max_length=64,
                ),
                FormField(
                    "quiet_start",
                    t("settings.quiet_start"),
                    FieldKind.TIME,
                    initial=f"{p.quiet_start or q.quiet_start:%H:%M}",
                    max_length=5,
                ),
                FormField(
                    "quiet_end",
                    t("settings.quiet_end"),
                    FieldKind.TIME,
                    initial=f"{p.quiet_end or q.quiet_end:%H:%M}",
                    max_length=5,
                ),
                FormField(
                    "cadence",
                    t("settings.cadence"),
                    FieldKind.CHOICE,
                    choices=tuple((c.value, t(f"cadence.{c.value}")) for c in Cadence),
                    initial=p.checkin_cadence,
                ),
                FormField(
                    "checkin_time",
                    t("settings.checkin_time"),
                    FieldKind.TIME,
                    initial=f"{checkin_time(ctx, p):%H:%M}",
                    max_length=5,
                ),
            ),
        ),
    )


def checkin_time(ctx: Context, p: Person) -> time:
    """The person's preferred local check-in time, or the one the scheduler spreads them to."""
    window = ctx.settings.checkins
    minute = p.checkin_minute
    if minute is None:
        minute = spread_minute(p.id, window.window_start, window.window_end)
    return time(minute // 60, minute % 60)


def parse_hhmm(text: str, field: str) -> time:
    try:
        return time.fromisoformat(text.strip().replace("：", ":"))
    except ValueError:
        raise FormError({field: "settings.bad_time"}) from None


async def settings_save(ctx: Context, msg: Incoming) -> Reply:
    p, v = ctx.me, msg.values
    try:
        timezone = valid_timezone(v.get("timezone", ""))
    except UserFacingError:
        raise FormError({"timezone": "settings.bad_timezone"}) from None
    p.quiet_start = parse_hhmm(v.get("quiet_start", ""), "quiet_start")
    p.quiet_end = parse_hhmm(v.get("quiet_end", ""), "quiet_end")
    if v.get("locale") in ("ja", "en"):
        p.locale = ctx.locale = v["locale"]
    when = parse_hhmm(v.get("checkin_time", ""), "checkin_time")
    cadence = v.get("cadence") if v.get("cadence") in {c.value for c in Cadence} else None
    minute = when.hour * 60 + when.minute
    if (
        (cadence and cadence != p.checkin_cadence)
        or minute != p.checkin_minute
        or timezone != (p.timezone)
    ):
        p.next_checkin_at = None  # the scheduler gives the next one from the new choice
    p.checkin_cadence, p.checkin_minute, p.timezone = cadence or p.checkin_cadence, minute, timezone
    p.updated_at = ctx.now
    return Reply(ctx.t("settings.saved") + "\n\n" + settings_text(ctx, p), private_only=True)


async def invite(ctx: Context, msg: Incoming) -> Reply:
    """`invite EMAIL` (one person, one use), `invite uses=N [days=N]` (a shared code) or
    `invite all [SEG]` (a mail to everyone in the segment not yet in: handlers/invitations.py)."""
    if msg.args and msg.args[0].lower() in ("all", "全員"):
        return await invitations.invite_all(ctx, msg)
    email = next((a for a in msg.args if "@" in a), None)
    options = dict(a.split("=", 1) for a in msg.args if "=" in a and "@" not in a)
    try:
        uses = int(options.get("uses", "1"))
        days = int(options.get("days", str(ctx.settings.invites.default_expiry_days)))
    except ValueError:
        raise UserFacingError("invite.usage") from None
    if not (1 <= uses <= 10_000 and 1 <= days <= 3650) or (email is None and "uses" not in options):
        raise UserFacingError("invite.usage")
    person = None
    if email is not None:
        if not EMAIL.match(email):
            raise UserFacingError("invite.bad_email")
        person = await people.person_by_email(ctx.session, email)
        if person is None or person.is_forgotten:
            raise UserFacingError("invite.unknown_email", email=email)
        uses = 1
    code = await invites.create(
        ctx.session, person=person, created_by=ctx.me.id, now=ctx.now, days=days, max_uses=uses
    )
    ctx.audit("invite", email or f"shared:{uses}", code=code.code, days=days)
    text = ctx.t("invite.created", code=code.code, days=days, uses=uses)
    for _name, link in invite_links(ctx.settings, code.code):
        text += "\n" + ctx.t("invite.deep_link", link=link)
    return Reply(text)
