"""Referrals: alumni and employees refer someone for an opening; HR moves each referral (and
each alumnus's own interest) through submitted → screening → interview → offer → hired, or
declined — never backwards — and the referrer hears of every step in their own language.

Commands: `refer [N]` (anyone who joined), `referrals [N]` (HR).
Buttons: jobs.refer (on an opening), referral.submit (the form), referral.move and
referral.list (HR)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Translator
from bot.core.normalize import number as as_number
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
from bot.dispatch.services import Addressing
from handlers.jobs import card, tell_owner
from handlers.outcomes import outcome_buttons
from storage import audit, outbox
from storage import jobs as openings
from storage import outcomes as ledger
from storage import referrals as store
from storage.models import Opening, OutboxKind, Outcome, Person, Referral

CHOICES = 15  # openings offered in the form's choice (Telegram shows them as buttons)
SHOWN = 15  # referrals in one `referrals` answer


def _is_open(o: Opening, today: date) -> bool:
    return o.status == "open" and (o.closes_on is None or o.closes_on >= today)


async def refer(ctx: Context, msg: Incoming) -> Reply:
    """`refer`, `refer 12` or the "refer someone" button of an opening: the referral form."""
    t, chosen = ctx.t, msg.payload or (msg.args[0] if msg.args else "")
    fields: list[FormField] = []
    if chosen:
        opening = await openings.get(ctx.session, chosen)
        if opening is None:
            raise UserFacingError("jobs.unknown", id=chosen)
        if not _is_open(opening, ctx.today):
            raise UserFacingError("referrals.opening_closed", title=opening.title)
        title = t("referrals.form_title_for", title=opening.title)
        payload = str(opening.id)
    else:
        listed = await openings.open_openings(ctx.session, ctx.today, limit=CHOICES)
        if not listed:
            raise UserFacingError("jobs.none_open")
        choices = tuple((str(o.id), f"#{o.id} {o.title}"[:70]) for o in listed)
        fields.append(FormField("opening", t("referrals.field.opening"), FieldKind.CHOICE,
                                choices=choices))  # fmt: skip
        title, payload = t("referrals.form_title"), ""
    fields += [
        FormField("name", t("referrals.field.name"), max_length=200),
        FormField("contact", t("referrals.field.contact"), hint=t("referrals.contact_hint"),
                  max_length=320),
        FormField("relationship", t("referrals.field.relationship"), max_length=200,
                  hint=t("referrals.relationship_hint")),
        FormField("why", t("referrals.field.why"), FieldKind.LONG_TEXT, required=False,
                  max_length=2000),
    ]  # fmt: skip
    return Reply(
        "", form=Form(title=title, submit_action="referral.submit", fields=tuple(fields),
                      payload=payload)
    )  # fmt: skip


async def submit(ctx: Context, msg: Incoming) -> Reply:
    v = msg.values
    chosen = msg.payload or v.get("opening", "")
    opening = await openings.get(ctx.session, chosen)
    if opening is None or not _is_open(opening, ctx.today):
        title = opening.title if opening else chosen
        if not msg.payload:
            raise FormError({"opening": "referrals.opening_closed"}, title=title)
        raise UserFacingError("referrals.opening_closed", title=title)
    name = " ".join(v.get("name", "").split())
    if not name:
        raise FormError({"name": "form.required"})
    if not v.get("contact", "").strip():
        raise FormError({"contact": "referrals.contact_required"})
    contact = store.contact_key(v["contact"])
    if contact is None:
        raise FormError({"contact": "referrals.bad_contact"})
    me = ctx.me
    referral = await store.add(
        ctx.session,
        opening_id=opening.id,
        kind=OutboxKind.REFERRAL,
        referrer_id=me.id,
        candidate_person_id=None,
        candidate_name=name,
        contact=contact[0],
        key=contact[1],
        relationship=v.get("relationship") or None,
        why=v.get("why") or None,
        now=ctx.now,
    )
    if referral is None:
        raise UserFacingError("referrals.duplicate", name=name, title=opening.title)
    await tell_owner(
        ctx, opening, "referrals.hr_new", f"referral:{referral.id}:new", "referral",
        notes=reasons(referral), name=referral.candidate_name, by=ctx.me.name,
    )  # fmt: skip
    await ctx.audit("refer", f"referral:{referral.id}", opening=opening.id)
    return Reply(ctx.t("referrals.thanks", name=name, title=opening.title), private_only=True)


# -- HR's pipeline ----------------------------------------------------------------------------


WHY_SHOWN = 300  # characters of "why a good fit" in the pipeline (the export has it whole)


def reasons(r: Referral, limit: int | None = None) -> list[tuple[str, str]]:
    """What the referrer said: how they know the candidate, why they fit."""
    why = r.why or ""
    if limit is not None and len(why) > limit:
        why = why[: limit - 1] + "…"
    return [("referrals.about_relationship", r.relationship_ or ""), ("referrals.about_why", why)]


def line(t: Translator, item: store.Line) -> str:
    r = item.referral
    status = t(f"referrals.status.{r.status}")
    if r.kind == "interest":
        who = t("referrals.line_interest", name=r.candidate_name)
    else:
        who = t("referrals.line_referral", name=r.candidate_name, by=item.referrer or "—")
    contact = f" ({r.candidate_contact})" if r.candidate_contact else ""
    head = f"R{r.id} · #{item.opening.id} {item.opening.title} — {who}{contact} · {status}"
    notes = [f"  {t(key, text=text)}" for key, text in reasons(r, WHY_SHOWN) if text]
    return "\n".join([head, *notes])


def _buttons(t: Translator, r: Referral) -> tuple[Button, ...]:
    return tuple(
        Button(
            t("referrals.move_button", id=r.id, status=t(f"referrals.status.{to}")),
            "referral.move",
            f"{r.id}:{to}",
            style="danger" if to == store.DECLINED else None,
        )
        for to in store.next_stages(r.status)
    )


async def referrals(ctx: Context, msg: Incoming) -> Reply:
    """`referrals [N]`: the pipeline, optionally for one opening, with the next steps."""
    opening_id = None
    if msg.args:
        opening = await openings.get(ctx.session, msg.args[0])
        if opening is None:
            raise UserFacingError("jobs.unknown", id=msg.args[0])
        opening_id = opening.id
    items = await store.pipeline(ctx.session, opening_id, limit=SHOWN)
    if not items:
        raise UserFacingError("referrals.none")
    t = ctx.t
    lines = [t("referrals.title")] + [line(t, i) for i in items]
    rows = tuple(b for i in items if (b := _buttons(t, i.referral)))
    return Reply("\n".join(lines), buttons=rows[:10], private_only=True)


async def move(ctx: Context, msg: Incoming) -> Reply:
    number, _, to = msg.payload.partition(":")
    moved = await move_stage(ctx.session, ctx, ctx.now, ctx.today, ctx.me, number, to, ctx.t)
    referral, opening, hired = moved.referral, moved.opening, moved.hired
    item = store.Line(referral, opening, None)
    text = ctx.t("referrals.moved", id=referral.id) + "\n" + line(ctx.t, item)
    buttons = _buttons(ctx.t, referral)
    if hired is not None:
        text += "\n" + ctx.t("outcomes.from_hire", id=hired.id, value=ledger.yen(hired.value_yen),
                             kind=ctx.t(f"outcomes.kind.{hired.kind}"))  # fmt: skip
        buttons = outcome_buttons(ctx.t, hired.id)
    return Reply(text, buttons=(buttons,) if buttons else (), private_only=True)


@dataclass(frozen=True)
class Moved:
    referral: Referral
    opening: Opening
    before: str
    hired: Outcome | None  # the outcome a hire recorded by itself


async def move_stage(
    session: AsyncSession,
    where: Addressing,
    now: datetime,
    today: date,
    actor: Person,
    number: str,
    to: str,
    t: Translator,
    via: str | None = None,
) -> Moved:
    """Move referral `number` to stage `to`, tell the referrer in their language and record a
    hire as an outcome, audited: the one way chat (`move`) and web console move a stage.
    UserFacingError (its params in `t`'s language) when the move is not allowed."""
    referral_id = as_number(number)
    referral = await session.get(Referral, referral_id) if referral_id else None
    if referral is None:
        raise UserFacingError("error.expired_button")
    problem = store.move_problem(referral.status, to)
    if problem:
        raise UserFacingError(
            problem,
            id=referral.id,
            status=t(f"referrals.status.{referral.status}"),
            to=t(f"referrals.status.{to}") if to in (*store.STAGES, store.DECLINED) else to,
        )
    before, referral.status, referral.updated_at = referral.status, to, now
    opening = await session.get(Opening, referral.opening_id)
    assert opening is not None
    await tell_referrer(session, where, now, referral, opening)
    extra: dict[str, Any] = {"via": via} if via else {}
    await audit.record(session, now, actor.id, "referral_move", f"referral:{referral.id}",
                       before=before, after=to, **extra)  # fmt: skip
    # A hire is an outcome by itself: HR need not type it again (storage/outcomes.py).
    hired = await ledger.from_hired_referral(
        session, referral, where.settings.outcomes, today, actor_id=actor.id, now=now
    )
    return Moved(referral, opening, before, hired)


async def tell_referrer(
    session: AsyncSession, where: Addressing, now: datetime, referral: Referral, opening: Opening
) -> None:
    """The referrer (or the alumnus who pressed "interested") hears of the referral's stage."""
    if referral.referrer_id is None:
        return
    referrer = await session.get(Person, referral.referrer_id)
    if referrer is None or referrer.is_forgotten:
        return
    t = where.translator_for(referrer)
    key = "referrals.update_interest" if referral.kind == "interest" else "referrals.update"
    text = t(
        key, name=referral.candidate_name, title=opening.title,
        status=t(f"referrals.status.{referral.status}"),
    )  # fmt: skip
    await outbox.enqueue(
        session,
        person_id=referrer.id,
        reply=Reply(text + "\n" + card(t, opening)),
        key=f"referral:{referral.id}:{referral.status}",
        kind=OutboxKind.REFERRAL,
        now=now,
    )
