"""Invitation campaigns by mail — opening the door to the chat places for every alumnus HR
imported, whom the bot has never met in chat.

Commands (HR): `invite all [SEG]` (also `alumni-bot invite --all [--segment SEG]`): a preview of
who would be invited and who is skipped, and why; then Send or Cancel. Buttons:
invitations.confirm / invitations.cancel (HR).
Scheduled work: `tick_reminders` — one reminder `mail.reminder_days` after the invitation to
whoever has not joined, then nothing more.

Each invitation is personal: their own code (good in every place), a link per configured place,
what the network offers, how their data is used, and the unsubscribe link. Delivery is the
outbox's (bot/runtime/delivery.py): the mail channel's rate limit, retries, bounces."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Catalogs, Translator
from bot.core.markup import bold
from bot.core.normalize import number
from bot.core.platforms import invite_links, mail_configured
from bot.core.settings import Settings
from bot.core.types import Button, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from bot.dispatch.services import Services
from storage import audit, campaigns, mail
from storage.models import Campaign, OutboxKind
from storage.segments import BadSegment, Segment, parse_segment

ALUMNI = Segment("alumni")
REMIND_BATCH = 500


def invitation(
    t: Translator,
    settings: Settings,
    *,
    name: str,
    code: str,
    expires: datetime,
    unsubscribe: str,
    reminder: bool = False,
) -> Reply:
    """The mail itself, in the person's language."""
    lines = [bold(t("invitations.greeting", name=name))]
    lines.append(t("invitations.reminder_intro" if reminder else "invitations.intro"))
    lines.append(t("invitations.offers"))
    places = [t("invitations.code", code=code)]
    for place, link in invite_links(settings, code):
        places.append(t(f"bridge.invitation_{place}", link=link))
    if settings.alumni_workspace_invite_url:
        places.append(t("bridge.invitation_workspace", link=settings.alumni_workspace_invite_url))
    places.append(t("invitations.valid_until", date=t.date(expires.date())))
    lines.append("\n".join(places))
    lines.append(t("invitations.data_use"))
    lines.append(t("invitations.unsubscribe", link=unsubscribe))
    subject = t("invitations.reminder_subject" if reminder else "invitations.subject")
    return Reply("\n\n".join(lines), subject=subject)


def unsubscribe_link(settings: Settings, token: str) -> str:
    return f"{settings.base_url()}/unsubscribe/{token}"


def parse(text: str) -> Segment:
    return parse_segment(text) if text.strip() else ALUMNI


async def queue(
    session: AsyncSession,
    catalogs: Catalogs,
    settings: Settings,
    campaign: Campaign,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Queue the campaign's invitations (one per eligible person, in chunks); returns how many.
    What `invite all` → Send and `alumni-bot invite --all` both do."""
    segment = parse_segment(campaign.segment)
    chunk = settings.delivery.enqueue_batch_size
    remind_after = timedelta(days=settings.mail.reminder_days)
    days = max(settings.invites.default_expiry_days, settings.mail.reminder_days + 14)
    everyone = await campaigns.eligible(session, segment, now)
    total = 0
    for start in range(0, len(everyone), chunk):
        ids = everyone[start : start + chunk]
        people = await campaigns.invitees(session, ids)
        tokens = await mail.ensure_tokens(session, ids, now)
        codes = await campaigns.add_invitations(
            session, campaign, people, now=now, days=days, remind_after=remind_after
        )
        expires = now + timedelta(days=days)
        messages = []
        for p in people:
            t = catalogs.for_person(p.locale, settings.default_locale)
            reply = invitation(
                t, settings, name=p.name, code=codes[p.person_id], expires=expires,
                unsubscribe=unsubscribe_link(settings, tokens[p.person_id]),
            )  # fmt: skip
            messages.append((p.person_id, f"invite:{p.person_id}", reply.to_dict()))
        await mail.enqueue_many(session, messages, kind=OutboxKind.INVITATION, now=now)
        total += len(people)
        if progress:
            progress(total)
    campaign.status, campaign.invited = "queued", total
    return total


def preview_lines(t: Translator, segment: Segment, counts: dict[str, int]) -> list[str]:
    lines = [t("invitations.preview", segment=str(segment), count=counts["eligible"])]
    lines += [
        t(f"invitations.skipped.{why}", count=counts[why]) for why in campaigns.SKIPS if counts[why]
    ]
    return lines


# -- chat: `invite all [SEG]` (HR) ------------------------------------------------------------


async def invite_all(ctx: Context, msg: Incoming) -> Reply:
    if not mail_configured(ctx.settings):
        raise UserFacingError("invitations.mail_off")
    try:
        segment = parse(" ".join(msg.args[1:]))
    except BadSegment as exc:
        raise UserFacingError(exc.key) from None
    counts = await campaigns.preview(ctx.session, segment, ctx.now)
    lines = preview_lines(ctx.t, segment, counts)
    if not counts["eligible"]:
        return Reply("\n".join([*lines, ctx.t("invitations.nobody")]))
    draft = Campaign(segment=str(segment), author_id=ctx.me.id, status="draft", created_at=ctx.now)
    ctx.session.add(draft)
    await ctx.session.flush()
    expires = ctx.now + timedelta(days=ctx.settings.invites.default_expiry_days)
    sample = invitation(
        ctx.t, ctx.settings, name=ctx.me.name, code="ABCD2345", expires=expires,
        unsubscribe=unsubscribe_link(ctx.settings, "…"),
    )  # fmt: skip
    lines += ["", ctx.t("invitations.sample"), sample.subject, sample.text]
    send = ctx.t("invitations.send_button", count=counts["eligible"])
    buttons = (
        Button(send, "invitations.confirm", str(draft.id), style="primary"),
        Button(ctx.t("invitations.cancel_button"), "invitations.cancel", str(draft.id)),
    )
    return Reply("\n".join(lines), buttons=(buttons,), private_only=True)


async def _draft(ctx: Context, payload: str) -> Campaign:
    campaign_id = number(payload)
    campaign = await ctx.session.get(Campaign, campaign_id) if campaign_id else None
    if campaign is None:
        raise UserFacingError("invitations.unknown")
    if campaign.status != "draft":
        raise UserFacingError("invitations.already_sent", count=campaign.invited)
    return campaign


async def confirm(ctx: Context, msg: Incoming) -> Reply:
    campaign = await _draft(ctx, msg.payload)
    count = await queue(ctx.session, ctx.catalogs, ctx.settings, campaign, ctx.now)
    await ctx.audit(
        "invite_all", f"campaign:{campaign.id}", segment=campaign.segment, invited=count
    )
    return Reply(ctx.t("invitations.queued", id=campaign.id, count=count))


async def cancel(ctx: Context, msg: Incoming) -> Reply:
    campaign = await _draft(ctx, msg.payload)
    await ctx.session.delete(campaign)
    return Reply(ctx.t("invitations.cancelled"))


# -- scheduled: the one reminder ----------------------------------------------------------------


async def tick_reminders(services: Services) -> int:
    """Queue the reminders due; returns how many invitations were looked at."""
    handled = 0
    while True:
        async with services.db.transaction() as session:
            now = services.clock.now()
            claimed, due = await campaigns.due_reminders(session, now, REMIND_BATCH)
            contacts = await mail.contacts(session, [r.person_id for r in due])
            messages = []
            for r in due:
                if r.person_id not in contacts:
                    continue
                t = services.catalogs.for_person(r.locale, services.settings.default_locale)
                reply = invitation(
                    t, services.settings, name=r.name, code=r.code, expires=r.expires_at,
                    unsubscribe=unsubscribe_link(services.settings, contacts[r.person_id].token),
                    reminder=True,
                )  # fmt: skip
                messages.append((r.person_id, f"invite-reminder:{r.person_id}", reply.to_dict()))
            await mail.enqueue_many(session, messages, kind=OutboxKind.INVITATION, now=now)
            if messages:
                await audit.record(
                    session, now, None, "invite_reminders", None, count=len(messages)
                )
        handled += claimed
        if claimed < REMIND_BATCH:
            return handled
