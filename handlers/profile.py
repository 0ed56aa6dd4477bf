"""Profile and settings — how a person shapes their presence: `profile` (and its form),
`settings` (language, zone, quiet hours, check-in cadence and time, pause, per-feature opt-outs)."""

from __future__ import annotations

import re
from datetime import time

import holidays

from bot.core.normalize import distinct_items, tidy
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
from bot.core.workdays import country_of
from bot.dispatch.context import Context
from handlers import bridge, checkins, privacy
from handlers.onboarding import valid_timezone
from storage.models import Cadence, Comeback, Person
from storage.schedule import spread_minute

OPT_OUTS = ("checkins", "surveys", "nudges", "jobs", "perks", "events", "broadcasts")
LIST_SPLIT = re.compile(r"[;；,，、/\n]+")
MAX_LIST_ITEMS = 50
MAX_ITEM_CHARS = 60


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
        f"• {t('settings.notices')}: {t(f'settings.notices_{p.notices}')}",
        f"• {t('settings.holidays')}: {checkins_country(ctx, p)}",
    ]
    lines += [
        f"• {t(f'optout.{f}')}: {t('settings.off' if f in p.opt_outs else 'settings.on')}"
        for f in OPT_OUTS
    ]
    if p.left_on is not None:  # "when will it write to me?": working days, in their zone
        planned = checkins.planned_checkins(ctx, p, ctx.now, 3)
        when = ", ".join(f"{t.date(at.astimezone(ctx.zone).date())} {at.astimezone(ctx.zone):%H:%M}"
                         for at in planned)  # fmt: skip
        lines.append(f"• {t('schedule.next')}: {when or t(checkins.why_none_planned(p) or '')}")
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
                FormField(
                    "notices",
                    t("settings.notices"),
                    FieldKind.CHOICE,
                    choices=tuple((n, t(f"settings.notices_{n}")) for n in NOTICES),
                    initial=p.notices,
                ),
                FormField(
                    "country",
                    t("settings.country"),
                    required=False,
                    initial=p.country or "",
                    hint=t("settings.country_hint", country=checkins_country(ctx, p)),
                    max_length=10,
                ),
                FormField(
                    "paused_until",
                    t("settings.paused_until"),
                    FieldKind.DATE,  # Slack shows a date picker
                    required=False,
                    initial=_paused_until(ctx, p),
                    hint=t("settings.paused_until_hint"),
                    max_length=20,
                ),
            ),
        ),
    )


NOTICES = ("fewer", "normal", "more")


def checkins_country(ctx: Context, p: Person) -> str:
    """Whose public holidays the bot keeps for this person: theirs, else their zone's."""
    return p.country or country_of(ctx.timezone) or "—"


def _paused_until(ctx: Context, p: Person) -> str:
    """The day a `pause until` ends, in the person's zone (YYYY-MM-DD), or ""."""
    return p.paused_until.astimezone(ctx.zone).date().isoformat() if p.paused_until else ""


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
    if v.get("notices") in NOTICES:
        p.notices = v["notices"]
    country = v.get("country", "").strip().upper()
    if country and country != (p.country or ""):
        if country not in holidays.list_supported_countries():
            raise FormError({"country": "settings.bad_country"}, value=country[:10])
        p.country, p.next_checkin_at = country, None  # rescheduled around the new holidays
    until = v.get("paused_until", "").strip()
    if until and until != _paused_until(ctx, p):
        try:
            day = privacy.parse_until(until, ctx.today)
        except UserFacingError as exc:
            raise FormError({"paused_until": exc.key}, **exc.params) from None
        p.paused, p.paused_until = True, privacy.local_midnight(day, ctx.zone)
        await ctx.audit("pause", f"person:{p.id}", until=day.isoformat())
    p.updated_at = ctx.now
    return Reply(ctx.t("settings.saved") + "\n\n" + settings_text(ctx, p), private_only=True)
