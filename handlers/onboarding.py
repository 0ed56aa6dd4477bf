"""Joining and consent — how a person enters: help, join CODE, invite (HR/admin); the consent,
language and time zone buttons. Profile and settings are handlers/profile.py."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.forms import EMAIL
from bot.core.platforms import invite_links
from bot.core.types import (
    Button,
    Incoming,
    Reply,
    UserFacingError,
)
from bot.dispatch.context import Context
from handlers import invitations
from storage import invites, people
from storage.models import Person

TIMEZONES = (
    "Asia/Tokyo",
    "Asia/Singapore",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)


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
        await ctx.audit("join_refused", msg.args[0][:32], allowed=False, reason=problem)
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
            await ctx.audit("join_refused", invite.code, allowed=False, reason="identity_taken")
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
    # From here on the person's language, as HR imported it: onboarding never switches midway.
    ctx.person, ctx.roles, ctx.locale = person, people.roles_of(person), person.locale
    await ctx.audit("join", f"person:{person.id}", channel=ctx.identity.channel)
    if person.consent_at is not None:
        return Reply(ctx.t("join.linked_again", name=person.name))
    return await consent_prompt(ctx, msg)


PENDING_MAX = 200  # a command typed before consenting, carried in the buttons' payloads
NOT_CARRIED = frozenset({"join", "start", "help", "consent", "cancel"})


def _carry(value: str, pending: str) -> str:
    """A button payload that also carries the command to run once onboarding ends."""
    return f"{value}|{pending}" if pending else value


async def consent_prompt(ctx: Context, msg: Incoming) -> Reply:
    """Asked before anything else; a command that brought the person here (`jobs` typed before
    agreeing) rides along in the buttons and runs once onboarding ends."""
    pending = ""
    if msg.command and msg.action is None and msg.command not in NOT_CARRIED:
        pending = f"{msg.command} {msg.arg_text}".strip()[:PENDING_MAX]
    return Reply(
        ctx.t("consent.prompt", name=ctx.me.name),
        buttons=(
            (
                Button(ctx.t("consent.yes"), "onboarding.consent", _carry("yes", pending),
                       style="primary"),
                Button(ctx.t("consent.no"), "onboarding.consent", "no"),
            ),
        ),
    )  # fmt: skip


LANGUAGES = (("ja", "日本語"), ("en", "English"))


async def consent(ctx: Context, msg: Incoming) -> Reply:
    person = ctx.me
    answer, _, pending = msg.payload.partition("|")
    if answer != "yes":
        return Reply(ctx.t("consent.declined"))
    if person.consent_at is None:
        person.consent_at = ctx.now
        person.consent_version = ctx.settings.privacy.consent_version
        await ctx.audit("consent", f"person:{person.id}", version=person.consent_version)
    # The language HR imported (or the one the person wrote in) is offered first, to confirm.
    current = person.locale or ctx.locale
    ordered = sorted(LANGUAGES, key=lambda lang: lang[0] != current)
    buttons = tuple(
        Button(ctx.t("onboarding.keep", value=name) if code == current else name,
               "onboarding.locale", _carry(code, pending))
        for code, name in ordered
    )  # fmt: skip
    text = (
        ctx.t("consent.thanks")
        + "\n"
        + ctx.t("onboarding.confirm_locale", value=dict(LANGUAGES)[current])
    )
    return Reply(text, buttons=(buttons,))


async def choose_locale(ctx: Context, msg: Incoming) -> Reply:
    code, _, pending = msg.payload.partition("|")
    if code not in dict(LANGUAGES):
        raise UserFacingError("error.expired_button")
    ctx.me.locale = ctx.locale = code
    imported = ctx.me.timezone  # from HR's import: offered first, to confirm
    zones = [imported] if imported else []
    zones += [tz for tz in TIMEZONES if tz != imported]
    rows = tuple(
        (Button(ctx.t("onboarding.keep", value=tz) if tz == imported else tz, "onboarding.tz",
                _carry(tz, pending)),)
        for tz in zones
    )  # fmt: skip
    if imported:
        return Reply(ctx.t("onboarding.confirm_timezone", value=imported), buttons=rows)
    return Reply(ctx.t("onboarding.ask_timezone"), buttons=rows)


async def choose_timezone(ctx: Context, msg: Incoming) -> Reply:
    zone, _, pending = msg.payload.partition("|")
    ctx.me.timezone = valid_timezone(zone)
    ctx.me.updated_at = ctx.now
    done = ctx.t("onboarding.done", timezone=ctx.me.timezone)
    if pending:  # what they asked for before agreeing, now that they have
        return Reply(done, then=pending)
    return Reply(done + "\n\n" + (await help_(ctx, msg)).text)


def valid_timezone(name: str) -> str:
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise UserFacingError("settings.bad_timezone") from None
    return name.strip()


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
    await ctx.audit("invite", email or f"shared:{uses}", code=code.code, days=days)
    text = ctx.t("invite.created", code=code.code, days=days, uses=uses)
    for _name, link in invite_links(ctx.settings, code.code):
        text += "\n" + ctx.t("invite.deep_link", link=link)
    return Reply(text)
