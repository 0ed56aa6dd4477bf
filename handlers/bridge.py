"""The bridge between the places people are (docs/architecture.md, "Where the people are"): the
company workspace, an alumni workspace and Telegram.

- where the bot writes to a person: their identities, shown by `profile`, and the choice of the
  first one (button `bridge.prefer`);
- intro answers that travel back to wherever the other person is: "reply" (a one-field form)
  and "let's meet" (buttons on checkins' intro);
- the offboarding hand-over: `offboard EMAIL DATE` (HR), `alumni-bot offboard` and a `left_on`
  newly set by `import people` tell the manager how to hold the exit conversation and send
  the leaver, while still in the company workspace, a personal invitation to the alumni
  network;
- `reach` (HR): alumni whom no proactive message can reach.

Every message to another person goes through the outbox, which picks their preferred reachable
identity at send time and falls back to the next."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.forms import EMAIL
from bot.core.i18n import Catalogs, Translator
from bot.core.normalize import number
from bot.core.platforms import DELIVERABLE, invite_links, mail_configured, platform
from bot.core.settings import Settings
from bot.core.types import Button, Form, FormField, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from handlers import invitations
from handlers import report_tables as tables
from storage import audit, identities, invites, mail, people
from storage.engagement import REACHABLE
from storage.models import Identity, OutboxKind, OutboxMessage, Person, Relation
from storage.outbox import enqueue
from storage.reports import invitations as invitation_funnel

MAX_REPLY_CHARS = 1000
REACH_LIMIT = 50
REACH_CAMPAIGNS = 5  # the latest invitation campaigns' funnels in `reach`

# -- where the bot writes to you ------------------------------------------------------------


def place(t: Translator, identity: Identity, names: dict[tuple[str, str], str]) -> str:
    """ "Slack · Alumni Co" / "Telegram": a place as people know it."""
    if platform(identity.channel).workspaces:
        team = identity.workspace
        where = names.get((identity.channel, team)) or team or t("bridge.workspace_unknown")
        return t(f"bridge.place_{identity.channel}", workspace=where)
    return t(f"bridge.place_{identity.channel}")


async def places(ctx: Context) -> tuple[str, tuple[tuple[Button, ...], ...]]:
    """The profile's section on identities, and a "write to me here" button for each reachable
    one that is not already the first choice."""
    t, me = ctx.t, ctx.me
    found = [i for i in await identities.of(ctx.session, me) if i.channel in DELIVERABLE]
    if not found:
        return "", ()
    names = await identities.workspace_names(ctx.session)
    first = identities.preferred(found)
    lines = [t("bridge.places_title")]
    rows: list[tuple[Button, ...]] = []
    for identity in found:
        label = place(t, identity, names)
        if identity is first:
            lines.append(t("bridge.place_first", place=label))
        elif not identity.reachable:
            lines.append(t("bridge.place_unreachable", place=label))
        else:
            lines.append(f"• {label}")
        if identity is not first and identity.channel in identities.PREFERABLE:
            text = t("bridge.prefer_button", place=label)[:75]
            rows.append((Button(text, "bridge.prefer", str(identity.id)),))
    return "\n".join(lines), tuple(rows)


async def prefer(ctx: Context, msg: Incoming) -> Reply:
    """Make one of my identities the first place the bot writes to me."""
    wanted = number(msg.payload)
    if wanted is None:
        raise UserFacingError("error.expired_button")
    found = await identities.of(ctx.session, ctx.me)
    chosen = next((i for i in found if i.id == wanted), None)
    if chosen is None or chosen.channel not in identities.PROACTIVE:
        raise UserFacingError("error.expired_button")
    if not chosen.reachable:
        if chosen.id != ctx.identity.id:
            raise UserFacingError("bridge.prefer_unreachable")
        chosen.reachable, chosen.unreachable_reason = True, None  # they are here: it works
    await identities.prefer(ctx.session, ctx.me, chosen.id)
    await ctx.audit("prefer_identity", f"identity:{chosen.id}", channel=chosen.channel)
    names = await identities.workspace_names(ctx.session)
    return Reply(ctx.t("bridge.preferred", place=place(ctx.t, chosen, names)), private_only=True)


# -- intro answers that travel back ---------------------------------------------------------


async def _other(ctx: Context, payload: str) -> Person:
    found = number(payload)
    if found is None:
        raise UserFacingError("error.expired_button")
    other = await ctx.session.get(Person, found)
    if other is None or other.is_forgotten or other.id == ctx.me.id:
        raise UserFacingError("log.nobody_anymore")
    return other


async def _can_reach(ctx: Context, other: Person) -> bool:
    reachable = await ctx.session.scalar(select(REACHABLE.where(Person.id == other.id)))
    return bool(reachable) and not other.paused and other.consent_at is not None


def theirs(ctx: Context, other: Person) -> Translator:
    return ctx.translator_for(other)


def answer_buttons(t: Translator, sender: int) -> tuple[tuple[Button, ...], ...]:
    """What the receiver of an intro answer can do next: answer again, or log it."""
    return (
        (
            Button(t("bridge.reply"), "bridge.reply", str(sender)),
            Button(t("bridge.meet"), "bridge.meet", str(sender)),
        ),
        (Button(t("bridge.log_met"), "checkin.met", f"{sender}:o"),),
    )


def intro_buttons(t: Translator, sender: int) -> tuple[Button, ...]:
    """The second row of checkins' intro: reply in words, or propose to meet."""
    return (
        Button(t("bridge.reply"), "bridge.reply", str(sender)),
        Button(t("bridge.meet"), "bridge.meet", str(sender)),
    )


async def reply_form(ctx: Context, msg: Incoming) -> Reply:
    other = await _other(ctx, msg.payload)
    return Reply(
        "",
        form=Form(
            title=ctx.t("bridge.reply_title")[:24],
            submit_action="bridge.reply_send",
            payload=str(other.id),
            fields=(
                FormField(
                    "text",
                    ctx.t("bridge.reply_field", name=other.name),
                    max_length=MAX_REPLY_CHARS,
                ),
            ),
        ),
    )


async def reply_send(ctx: Context, msg: Incoming) -> Reply:
    """Relay a short text answer to the other person, wherever they are."""
    other = await _other(ctx, msg.payload)
    text = " ".join(msg.values.get("text", "").split())
    if not text:
        raise UserFacingError("bridge.reply_empty")
    if len(text) > MAX_REPLY_CHARS:
        raise UserFacingError("bridge.reply_too_long", max=MAX_REPLY_CHARS)
    if not await _can_reach(ctx, other):
        return Reply(ctx.t("checkin.cannot_reach", name=other.name))
    t = theirs(ctx, other)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    today = ctx.now.astimezone(ctx.zone).date().isoformat()
    queued = await enqueue(
        ctx.session,
        person_id=other.id,
        reply=Reply(
            t("bridge.reply_received", name=ctx.me.name, text=text),
            buttons=answer_buttons(t, ctx.me.id),
        ),
        key=f"reply:{ctx.me.id}:{other.id}:{today}:{digest}",
        kind=OutboxKind.INTRO,
        now=ctx.now,
    )
    await ctx.audit("intro", f"person:{other.id}", kind="reply", queued=queued)
    return Reply(ctx.t("bridge.reply_sent" if queued else "bridge.reply_already", name=other.name))


async def meet(ctx: Context, msg: Incoming) -> Reply:
    """ "Let's meet": the other person hears it where they are, with a way to answer."""
    other = await _other(ctx, msg.payload)
    if not await _can_reach(ctx, other):
        return Reply(ctx.t("checkin.cannot_reach", name=other.name))
    t = theirs(ctx, other)
    today = ctx.now.astimezone(ctx.zone).date().isoformat()
    queued = await enqueue(
        ctx.session,
        person_id=other.id,
        reply=Reply(
            t("bridge.meet_received", name=ctx.me.name),
            buttons=(
                (Button(t("bridge.reply"), "bridge.reply", str(ctx.me.id)),),
                (Button(t("bridge.log_met_in_person"), "checkin.met", f"{ctx.me.id}:p"),),
            ),
        ),
        key=f"meet:{ctx.me.id}:{other.id}:{today}",
        kind=OutboxKind.INTRO,
        now=ctx.now,
    )
    await ctx.audit("intro", f"person:{other.id}", kind="meet", queued=queued)
    return Reply(ctx.t("bridge.meet_sent" if queued else "bridge.meet_already", name=other.name))


# -- the offboarding hand-over --------------------------------------------------------------


@dataclass(frozen=True)
class HandOver:
    managers: int  # exit-conversation guides queued
    invited: bool  # the leaver's invitation queued (False: it already was)
    code: str | None
    reachable: bool = True  # False: neither chat nor mail reaches them: HR hands the code over
    mailed: bool = False  # the invitation also goes by mail, to their private address


def _leaver_key(person: Person, left_on: date) -> str:
    return f"offboard:leaver:{person.id}:{left_on.isoformat()}"


async def hand_over(
    session: AsyncSession,
    catalogs: Catalogs,
    settings: Settings,
    person: Person,
    now: datetime,
    by: int | None = None,
) -> HandOver:
    """Tell the leaver's managers how to hold the exit conversation, and invite the leaver to
    the alumni network (a new invite code, the Telegram deep link, the alumni-workspace link).
    Keyed by person and leaving date: offboarding twice sends once."""
    left_on = person.left_on
    assert left_on is not None
    managers = list(
        await session.scalars(
            select(Person)
            .join(Relation, Relation.other_id == Person.id)
            .where(
                Relation.person_id == person.id,
                Relation.kind == "manager",
                Person.forgotten_at.is_(None),
            )
        )
    )
    found = await session.scalars(select(Identity).where(Identity.person_id == person.id))
    by_chat = any(i.reachable and i.channel in DELIVERABLE for i in found)
    # The company address closes with the account: mail goes only to a private one.
    contact = (await mail.contacts(session, [person.id])).get(person.id)
    by_mail = bool(person.private_email and mail_configured(settings) and mail.mailable(contact))
    reachable = by_chat or by_mail
    guide = "bridge.exit_guide" if reachable else "bridge.exit_guide_unreachable"
    told = 0
    for manager in managers:
        t = catalogs.for_person(manager.locale, settings.default_locale)
        text = t(guide, name=person.name, date=t.date(left_on))
        told += await enqueue(
            session,
            person_id=manager.id,
            reply=Reply(text),
            key=f"offboard:manager:{person.id}:{manager.id}:{left_on.isoformat()}",
            kind=OutboxKind.OFFBOARDING,
            now=now,
        )
    key = _leaver_key(person, left_on)
    code: str | None = None
    queued = await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key.in_((key, f"{key}:mail")))
    )
    if queued is None:
        days = max(settings.invites.default_expiry_days, (left_on - now.date()).days + 30)
        invite = await invites.create(
            session, person=person, created_by=by, now=now, days=min(days, 3650)
        )
        code = invite.code
        t = catalogs.for_person(person.locale, settings.default_locale)
        lines = [t("bridge.invitation", name=person.name, date=t.date(left_on), code=code)]
        for name, link in invite_links(settings, code):
            lines.append(t(f"bridge.invitation_{name}", link=link))
        if settings.alumni_workspace_invite_url:
            lines.append(
                t("bridge.invitation_workspace", link=settings.alumni_workspace_invite_url)
            )
        if by_chat or not by_mail:  # queued even when nothing reaches them yet: it waits
            await enqueue(
                session,
                person_id=person.id,
                reply=Reply("\n\n".join(lines), private_only=True),
                key=key,
                kind=OutboxKind.OFFBOARDING,
                now=now,
                urgent=True,  # the company account may close soon: do not hold for quiet hours
            )
        if by_mail:
            [token] = (await mail.ensure_tokens(session, [person.id], now)).values()
            link = invitations.unsubscribe_link(settings, token)
            lines += [t("invitations.data_use"), t("invitations.unsubscribe", link=link)]
            await mail.enqueue(
                session, person_id=person.id, key=f"{key}:mail",
                reply=Reply("\n\n".join(lines), subject=t("invitations.offboarding_subject")),
                kind=OutboxKind.OFFBOARDING, now=now,
            )  # fmt: skip
    await audit.record(
        session, now, by, "offboard", f"person:{person.id}",
        left_on=left_on.isoformat(), managers=told, invited=code is not None,
        reachable=reachable, mailed=by_mail,
    )  # fmt: skip
    return HandOver(told, code is not None, code, reachable, by_mail)


class OffboardError(Exception):
    """Bad `offboard` input: a message key and its parameters."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


async def offboard_person(
    session: AsyncSession,
    catalogs: Catalogs,
    settings: Settings,
    email: str,
    day: str,
    now: datetime,
    by: int | None = None,
) -> tuple[Person, HandOver]:
    """`offboard EMAIL DATE`, shared by the chat command and the command line."""
    if not EMAIL.match(email):
        raise OffboardError("invite.bad_email")
    try:
        left_on = date.fromisoformat(day)
    except ValueError:
        raise OffboardError("bridge.offboard_bad_date", date=day[:40]) from None
    person = await people.person_by_email(session, email)
    if person is None or person.is_forgotten:
        raise OffboardError("invite.unknown_email", email=email)
    if person.joined_on is not None and left_on < person.joined_on:
        raise OffboardError("bridge.offboard_before_joining", date=day)
    if person.left_on != left_on:
        person.left_on = left_on
        person.updated_at = now
    return person, await hand_over(session, catalogs, settings, person, now, by)


async def offboard(ctx: Context, msg: Incoming) -> Reply:
    if len(msg.args) != 2:
        raise UserFacingError("bridge.offboard_usage")
    email, day = msg.args
    try:
        person, done = await offboard_person(
            ctx.session, ctx.catalogs, ctx.settings, email, day, ctx.now, ctx.me.id
        )
    except OffboardError as exc:
        raise UserFacingError(exc.key, **exc.params) from None
    assert person.left_on is not None
    if not done.invited:
        key = "bridge.offboarded_again"
    else:  # say what will happen, and show the code either way
        key = "bridge.offboarded" if done.reachable else "bridge.offboarded_unreachable"
    text = ctx.t(
        key, name=person.name, date=ctx.t.date(person.left_on), managers=done.managers,
        code=done.code or "",
    )  # fmt: skip
    return Reply(text, private_only=True)


async def after_import(
    session: AsyncSession, catalogs: Catalogs, settings: Settings, ids: list[int], now: datetime
) -> int:
    """`import people` set `left_on` for these people: hand each over. Returns how many."""
    done = 0
    for person_id in ids:
        person = await session.get(Person, person_id)
        if person is not None and person.left_on is not None and not person.is_forgotten:
            done += (await hand_over(session, catalogs, settings, person, now)).invited
    return done


# -- who is reachable nowhere (HR) ----------------------------------------------------------


def why_unreachable(t: Translator, person: Person) -> str:
    """Why no chat reaches them (their identities loaded): what the platforms said, or that
    they never joined."""
    why = sorted({i.unreachable_reason or "?" for i in person.identities if not i.reachable})
    return ", ".join(why)[:120] if why else t("bridge.reach_never_joined")


async def reach(ctx: Context, msg: Incoming) -> Reply:
    """Who no chat reaches, and how the invitation campaigns by mail are doing."""
    total, found = await identities.reachable_nowhere(ctx.session, REACH_LIMIT)
    t = ctx.t
    sent = await invitation_funnel.funnels(ctx.session, limit=REACH_CAMPAIGNS)
    funnel = ["", tables.as_text(tables.invitations_table(t, sent))] if sent else []
    if not total:
        return Reply("\n".join([t("bridge.reach_everyone"), *funnel]), private_only=True)
    lines = [t("bridge.reach_title", count=total)]
    for person in found:
        lines.append(f"• {person.name} <{person.email or '-'}> — {why_unreachable(t, person)}")
    if total > len(found):
        lines.append(t("bridge.reach_more", count=total - len(found)))
    return Reply("\n".join([*lines, *funnel]), private_only=True)
