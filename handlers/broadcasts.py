"""Broadcasts — HR sends an announcement to a segment of the alumni network.

Commands (HR/admin): `broadcast` (a form: text, segment, its value, urgent), then a preview
with the recipient count and the message in each language, then Send or Cancel;
`broadcast status [N]` — delivered / failed / unreachable / waiting and clicks.
Buttons: broadcast.submit/confirm/cancel/status (HR), broadcast.click (anyone who received one).
Scheduled work: `finish`, called by the delivery worker, closes a broadcast once nothing waits
and sends its author the delivery report.

Delivery itself is the outbox's (bot/runtime/delivery.py): rate limits, quiet hours and pause apply;
urgent broadcasts skip quiet hours."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Catalogs
from bot.core.normalize import number
from bot.core.settings import LOCALES, Settings
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
from bot.dispatch.services import Services
from handlers.broadcast_drafts import INTERESTED as INTERESTED
from handlers.broadcast_drafts import MAX_TEXT as MAX_TEXT
from handlers.broadcast_drafts import BadDraft, discard, draft_of, make_draft
from storage import broadcasts as store
from storage import outbox
from storage.models import Broadcast, OutboxKind, Person


def message_for(catalogs: Catalogs, locale: str, broadcast: Broadcast) -> Reply:
    """What a recipient gets, in their language: a heading, HR's text, the buttons."""
    t = catalogs.translator(locale)
    buttons = tuple(
        (Button(t(f"broadcasts.{name}_button"), "broadcast.click", f"{broadcast.id}:{name}"),)
        for name in broadcast.buttons
    )
    return Reply(t("broadcasts.message", text=broadcast.text), buttons=buttons)


def payloads(catalogs: Catalogs, broadcast: Broadcast) -> dict[str, dict[str, Any]]:
    return {loc: message_for(catalogs, loc, broadcast).to_dict() for loc in LOCALES}


async def queue(
    session: AsyncSession,
    catalogs: Catalogs,
    settings: Settings,
    draft: Broadcast,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Queue a broadcast for everyone in its segment, in each person's language: what "send"
    in chat and `alumni-bot broadcast` both do. Returns how many messages are in the outbox."""
    return await store.enqueue(
        session,
        draft,
        payloads(catalogs, draft),
        settings.default_locale,
        now,
        batch=settings.delivery.enqueue_batch_size,
        progress=progress,
    )


def segment_label(ctx: Context | Callable[..., str], segment: store.Segment) -> str:
    t = ctx.t if isinstance(ctx, Context) else ctx
    label = t(f"broadcasts.segment.{segment.kind}")
    return f"{label}: {segment.value}" if segment.value else label


async def _get(ctx: Context, payload: str) -> Broadcast:
    found = number(payload)
    if found is None:
        raise UserFacingError("broadcasts.unknown")
    broadcast = await ctx.session.get(Broadcast, found)
    if broadcast is None:
        raise UserFacingError("broadcasts.unknown")
    return broadcast


# -- commands ---------------------------------------------------------------------------------


async def broadcast(ctx: Context, msg: Incoming) -> Reply:
    if msg.args and msg.args[0].lower() in ("status", "状況"):
        if len(msg.args) > 1:
            return await _status(ctx, await _get(ctx, msg.args[1].removeprefix("#")))
        latest = await store.latest(ctx.session)
        if latest is None:
            raise UserFacingError("broadcasts.none_yet")
        return await _status(ctx, latest)
    if msg.args:
        raise UserFacingError("broadcasts.usage")
    t = ctx.t
    yes_no = (("no", t("no")), ("yes", t("yes")))
    return Reply(
        "",
        form=Form(
            title=t("broadcasts.form_title"),
            submit_action="broadcast.submit",
            fields=(
                FormField(
                    "text",
                    t("broadcasts.field_text"),
                    FieldKind.LONG_TEXT,
                    hint=t("broadcasts.field_text_hint"),
                    max_length=MAX_TEXT,
                ),
                FormField(
                    "segment",
                    t("broadcasts.field_segment"),
                    FieldKind.CHOICE,
                    choices=tuple((k, t(f"broadcasts.segment.{k}")) for k in store.SEGMENT_KINDS),
                ),
                FormField(
                    "target",
                    t("broadcasts.field_target"),
                    required=False,
                    hint=t("broadcasts.field_target_hint"),
                    max_length=150,
                ),
                FormField("urgent", t("broadcasts.field_urgent"), FieldKind.CHOICE, choices=yes_no),
            ),
        ),
    )


async def submit(ctx: Context, msg: Incoming) -> Reply:
    """The form is complete: save a draft and show who gets what before anything is sent."""
    v = msg.values
    try:
        made = await make_draft(ctx.session, ctx.settings, author_id=ctx.me.id,
                                text=v.get("text", ""), kind=v.get("segment", ""),
                                target=v.get("target", ""), urgent=v.get("urgent") == "yes",
                                now=ctx.now)  # fmt: skip
    except BadDraft as exc:
        raise FormError({exc.field: exc.key}) from None
    if made is None:
        return Reply(ctx.t("broadcasts.nobody"))
    draft, total, counts = made.broadcast, made.total, made.counts
    segment = store.parse_segment(draft.segment)
    lines = [
        ctx.t(
            "broadcasts.preview",
            id=draft.id,
            segment=segment_label(ctx, segment),
            count=total,
            ja=counts["ja"],
            en=counts["en"],
        )
    ]
    if draft.urgent:
        lines.append(ctx.t("broadcasts.urgent_note"))
    lines.append(ctx.t("broadcasts.confirm_note"))
    for loc in LOCALES:
        sample = message_for(ctx.catalogs, loc, draft)
        labels = " ".join(f"[{b.label}]" for b in sample.all_buttons())
        heading = ctx.t("broadcasts.preview_as", language=ctx.t(f"locale.{loc}"))
        lines += ["", f"— {heading}", sample.text, labels]
    await ctx.audit("broadcast_draft", f"broadcast:{draft.id}", segment=str(segment), count=total)
    return Reply(
        "\n".join(lines),
        buttons=(
            (
                Button(
                    ctx.t("broadcasts.send_button", count=total),
                    "broadcast.confirm",
                    str(draft.id),
                    style="primary",
                ),
                Button(ctx.t("broadcasts.cancel_button"), "broadcast.cancel", str(draft.id)),
            ),
        ),
    )


async def send(
    session: AsyncSession, catalogs: Catalogs, settings: Settings, number: str, now: datetime
) -> tuple[Broadcast, int]:
    """Send a draft: queue it for its segment (what the chat's Send and the console's confirm
    both do). Returns the broadcast and how many messages are in the outbox."""
    draft = await draft_of(session, number)
    return draft, await queue(session, catalogs, settings, draft, now)


async def confirm(ctx: Context, msg: Incoming) -> Reply:
    draft, queued = await send(ctx.session, ctx.catalogs, ctx.settings, msg.payload, ctx.now)
    await ctx.audit("broadcast", f"broadcast:{draft.id}", segment=draft.segment, recipients=queued)
    if queued == 0:
        return Reply(ctx.t("broadcasts.nobody"))
    return Reply(
        ctx.t("broadcasts.queued", id=draft.id, count=queued),
        buttons=((Button(ctx.t("broadcasts.status_button"), "broadcast.status", str(draft.id)),),),
    )


async def cancel(ctx: Context, msg: Incoming) -> Reply:
    draft = await discard(ctx.session, msg.payload)
    await ctx.audit("broadcast_cancel", f"broadcast:{draft.id}")
    return Reply(ctx.t("broadcasts.cancelled", id=draft.id))


async def status(ctx: Context, msg: Incoming) -> Reply:
    return await _status(ctx, await _get(ctx, msg.payload))


async def _status(ctx: Context, item: Broadcast) -> Reply:
    report = await store.report(ctx.session, item)
    text = status_text(ctx.t, report, segment_label(ctx, store.parse_segment(item.segment)))
    return Reply(
        text,
        buttons=((Button(ctx.t("broadcasts.status_button"), "broadcast.status", str(item.id)),),),
    )


def status_text(t: Callable[..., str], report: store.Report, segment: str) -> str:
    return t(
        "broadcasts.status",
        id=report.broadcast.id,
        segment=segment,
        state=t(f"broadcasts.state.{report.broadcast.status}"),
        delivered=report.delivered,
        failed=report.failed,
        unreachable=report.unreachable,
        waiting=report.waiting,
        interested=report.clicks.get(INTERESTED, 0),
    )


async def click(ctx: Context, msg: Incoming) -> Reply:
    """A recipient pressed one of the broadcast's buttons: counted once per person."""
    number, _, action = msg.payload.partition(":")
    item = await _get(ctx, number)
    if action not in item.buttons:
        raise UserFacingError("error.expired_button")
    first = await store.click(ctx.session, item.id, ctx.me.id, action, ctx.now)
    return Reply(ctx.t("broadcasts.click_thanks" if first else "broadcasts.click_again"))


# -- scheduled work (called by the delivery worker) -------------------------------------------


async def finish(session: AsyncSession, app: Services, ids: Sequence[int], now: datetime) -> None:
    """Close every broadcast of `ids` with nothing left waiting, and queue its author's report."""
    for broadcast_id in ids:
        if not await store.mark_done(session, broadcast_id):
            continue
        item = await session.get(Broadcast, broadcast_id, populate_existing=True)
        if item is None or item.author_id is None:
            continue
        author = await session.get(Person, item.author_id)
        if author is None or author.is_forgotten:
            continue
        report = await store.report(session, item)
        t = app.translator_for(author)
        text = t(
            "broadcasts.report",
            id=item.id,
            delivered=report.delivered,
            failed=report.failed,
            unreachable=report.unreachable,
            interested=report.clicks.get(INTERESTED, 0),
        )
        button = Button(t("broadcasts.status_button"), "broadcast.status", str(item.id))
        await outbox.enqueue(
            session,
            person_id=author.id,
            reply=Reply(text, buttons=((button,),)),
            key=f"broadcast:{item.id}:report",
            kind=OutboxKind.BROADCAST_REPORT,
            now=now,
        )
