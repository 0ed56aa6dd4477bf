"""Perks — alumni discounts and services: HR adds them, alumni claim them, HR counts claims.

Commands: perks (an alumna's eligible, valid perks; HR: every perk with its claims),
postperk (HR).
Buttons: claim, see claims (HR).
Scheduled work: `announce` — new perks go out through the outbox to eligible alumni who have
not opted out of perk notices. The first new perk goes at once; perks added within a week of
the last announcement wait and go together as one weekly digest."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from bot.core.i18n import Translator
from bot.core.markup import bold
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
from bot.dispatch.services import Services
from storage import outbox
from storage import perks as store
from storage.models import OutboxKind, Perk, Role

DIGEST_EVERY = timedelta(days=7)
CODE_SPLIT = re.compile(r"[\s,;、，；]+")
MAX_CODES = 2000
MAX_CODE_CHARS = 200
DIGEST_BUTTONS = 10


def perk_text(t: Translator, perk: Perk) -> str:
    head = bold(perk.title) + (f" — {perk.partner}" if perk.partner else "")
    lines = [head]
    if perk.description:
        lines.append(perk.description)
    if perk.valid_until:
        lines.append(t("perks.valid_until", date=t.date(perk.valid_until)))
    return "\n".join(lines)


def claim_button(t: Translator, perk: Perk) -> Button:
    return Button(t("perks.claim_button", title=perk.title[:40]), "perks.claim", str(perk.id))


async def list_(ctx: Context, msg: Incoming) -> Reply:
    if ctx.has_role(Role.HR, Role.ADMIN):
        return await hr_list(ctx)
    t, me = ctx.t, ctx.me
    found = [p for p in await store.active(ctx.session, ctx.today) if store.eligible(p, me)]
    if not found:
        return Reply(t("perks.none"))
    mine = await store.claims_of(ctx.session, me.id, [p.id for p in found])
    blocks, buttons = [t("perks.list_title")], []
    for perk in found:
        text = perk_text(t, perk)
        if perk.id in mine:
            code = mine[perk.id][1]
            text += "\n" + t("perks.claimed_mark")
            text += (" · " + t("perks.your_code", code=code)) if code else ""
        else:
            buttons.append((claim_button(t, perk),))
        blocks.append(text)
    return Reply("\n\n".join(blocks), buttons=tuple(buttons), private_only=True)


async def hr_list(ctx: Context) -> Reply:
    """Every recent perk, expired ones too, with claims and codes used."""
    t = ctx.t
    found = await store.recent(ctx.session)
    if not found:
        return Reply(t("perks.none_hr"))
    numbers = await store.stats(ctx.session, [p.id for p in found])
    lines, buttons = [t("perks.hr_title")], []
    for perk in found:
        s = numbers[perk.id]
        line = "• " + t("perks.hr_line", title=perk.title, claims=s.claims)
        if s.codes:
            line += " " + t("perks.hr_codes", used=s.codes_used, total=s.codes)
        if perk.valid_until and perk.valid_until < ctx.today:
            line += " " + t("perks.hr_expired")
        lines.append(line)
        label = t("perks.claims_button", title=perk.title[:40])
        buttons.append((Button(label, "perks.claims", str(perk.id)),))
    return Reply("\n".join(lines), buttons=tuple(buttons))


async def claims(ctx: Context, msg: Incoming) -> Reply:
    """HR: who claimed one perk, and when."""
    perk = await perk_for(msg.payload, ctx)
    s = (await store.stats(ctx.session, [perk.id]))[perk.id]
    lines = [ctx.t("perks.claims_title", title=perk.title, claims=s.claims)]
    for row, person in await store.claimers(ctx.session, perk.id):
        lines.append(f"• {person.name} — {ctx.t.date(row.claimed_at.astimezone(ctx.zone).date())}")
    return Reply("\n".join(lines), private_only=True)


async def perk_for(payload: str, ctx: Context) -> Perk:
    perk_id = number(payload)
    perk = await store.get(ctx.session, perk_id) if perk_id else None
    if perk is None:
        raise UserFacingError("error.expired_button")
    return perk


async def claim(ctx: Context, msg: Incoming) -> Reply:
    """Hand out the next unused code (or the redemption text), once per person."""
    t, me = ctx.t, ctx.me
    perk = await perk_for(msg.payload, ctx)
    if not store.eligible(perk, me):
        raise UserFacingError("perks.not_eligible")
    if perk.valid_until is not None and perk.valid_until < ctx.today:
        raise UserFacingError("perks.expired", title=perk.title)
    if perk.valid_from is not None and perk.valid_from > ctx.today:
        raise UserFacingError("perks.not_yet", date=t.date(perk.valid_from))
    redeem = (
        ("\n" + t("perks.how_to_redeem", text=perk.how_to_redeem)) if perk.how_to_redeem else ""
    )
    earlier = (await store.claims_of(ctx.session, me.id, [perk.id])).get(perk.id)
    if earlier is not None:
        code = earlier[1]
        again = t("perks.your_code", code=code) if code else ""
        text = t("perks.already_claimed", title=perk.title) + ("\n" + again if again else "")
        return Reply(text + redeem, private_only=True)
    try:
        _, code = await store.claim(ctx.session, perk, me.id, ctx.now)
    except store.Refused as exc:
        raise UserFacingError(exc.key, title=perk.title) from None
    await ctx.audit("perk_claim", f"perk:{perk.id}", code=code is not None)
    if code is not None:
        return Reply(
            t("perks.claimed_code", title=perk.title, code=code) + redeem, private_only=True
        )
    return Reply(t("perks.claimed", title=perk.title) + redeem, private_only=True)


# ---- HR: posting a perk -------------------------------------------------------------------


async def post(ctx: Context, msg: Incoming) -> Reply:
    """`postperk`: the form."""
    return Reply("", form=perk_form(ctx.t))


def perk_form(t: Translator) -> Form:
    """The perk's fields, for the chat's form and the console's page alike."""
    choices = tuple((e, t(f"perks.eligibility.{e}")) for e in store.ELIGIBILITY)
    fields = (
        FormField("title", t("perks.f_title"), max_length=200),
        FormField(
            "description",
            t("perks.f_description"),
            FieldKind.LONG_TEXT,
            required=False,
            max_length=2000,
        ),
        FormField("partner", t("perks.f_partner"), required=False, max_length=200),
        FormField(
            "how_to_redeem",
            t("perks.f_how_to_redeem"),
            FieldKind.LONG_TEXT,
            required=False,
            max_length=2000,
        ),
        FormField(
            "eligibility",
            t("perks.f_eligibility"),
            FieldKind.CHOICE,
            choices=choices,
            initial="all",
        ),
        FormField(
            "min_tenure_months",
            t("perks.f_min_tenure_months"),
            FieldKind.NUMBER,
            required=False,
            hint=t("perks.min_tenure_hint"),
            max_length=4,
        ),
        FormField(
            "department",
            t("perks.f_department"),
            required=False,
            hint=t("perks.department_hint"),
            max_length=200,
        ),
        FormField("valid_from", t("perks.f_valid_from"), FieldKind.DATE, required=False),
        FormField("valid_until", t("perks.f_valid_until"), FieldKind.DATE, required=False),
        FormField(
            "codes",
            t("perks.f_codes"),
            FieldKind.LONG_TEXT,
            required=False,
            hint=t("perks.codes_hint"),
            max_length=20_000,
        ),
    )
    return Form(t("perks.form_title"), "perks.create", fields)


def parse_codes(text: str) -> list[str]:
    codes = list(dict.fromkeys(c for c in CODE_SPLIT.split(text) if c))
    if len(codes) > MAX_CODES or any(len(c) > MAX_CODE_CHARS for c in codes):
        raise FormError({"codes": "perks.bad_codes"}, max=MAX_CODES)
    return codes


async def create(ctx: Context, msg: Incoming) -> Reply:
    v = msg.values
    eligibility = v.get("eligibility") or "all"
    if eligibility not in store.ELIGIBILITY:
        raise FormError({"eligibility": "form.bad_choice"})
    months = int(v["min_tenure_months"]) if v.get("min_tenure_months") else None
    if eligibility == "tenure" and not (months and 0 < months <= 600):
        raise FormError({"min_tenure_months": "perks.bad_months"})
    department = v.get("department") or None
    if eligibility == "department" and not department:
        raise FormError({"department": "perks.need_department"})
    valid_from = date.fromisoformat(v["valid_from"]) if v.get("valid_from") else None
    valid_until = date.fromisoformat(v["valid_until"]) if v.get("valid_until") else None
    if valid_until is not None and valid_until < ctx.today:
        raise FormError({"valid_until": "perks.bad_expired"})
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise FormError({"valid_until": "perks.bad_range"})
    codes = parse_codes(v.get("codes", ""))
    how = v.get("how_to_redeem") or None
    if not codes and how is None:
        raise FormError({"how_to_redeem": "perks.need_redeem"})
    perk = Perk(
        title=v["title"],
        description=v.get("description", ""),
        partner=v.get("partner") or None,
        how_to_redeem=how,
        eligibility=eligibility,
        min_tenure_months=months if eligibility == "tenure" else None,
        department=department if eligibility == "department" else None,
        valid_from=valid_from,
        valid_until=valid_until,
        owner_id=ctx.me.id,
        created_at=ctx.now,
    )
    ctx.session.add(perk)
    await ctx.session.flush()
    store.add_codes(ctx.session, perk, codes)
    reach = sum(store.eligible(perk, p) for p in await store.audience(ctx.session))
    await ctx.audit("perk_create", f"perk:{perk.id}", codes=len(codes), eligibility=eligibility)
    return Reply(ctx.t("perks.created", title=perk.title, codes=len(codes), reach=reach))


# ---- scheduled work -----------------------------------------------------------------------


def announcement(t: Translator, found: list[Perk]) -> Reply:
    if len(found) == 1:
        text = t("perks.new_one") + "\n\n" + perk_text(t, found[0])
    else:
        text = "\n\n".join([t("perks.digest", count=len(found))] + [perk_text(t, p) for p in found])
    buttons = [(claim_button(t, p),) for p in found[:DIGEST_BUTTONS]]
    buttons.append((Button(t("perks.see_all"), "perks.list"),))
    return Reply(text, buttons=tuple(buttons))


async def announce(app: Services) -> int:
    """Announce perks that became valid and were not announced yet; returns messages queued.

    Nothing goes out within a week of the previous announcement: what arrives meanwhile is
    sent as one digest when the week is over."""
    async with app.db.transaction() as session:
        now = app.clock.now()
        last = await store.last_announced(session)
        if last is not None and now < last + DIGEST_EVERY:
            return 0
        day = now.astimezone(ZoneInfo(app.settings.default_timezone)).date()
        found = await store.pending(session, day)
        if not found:
            return 0
        for perk in found:
            perk.announced_at = now
        ids = ",".join(str(p.id) for p in found).encode()
        batch = hashlib.sha256(ids).hexdigest()[:16]
        queued = 0
        for person in await store.audience(session):
            theirs = [p for p in found if store.eligible(p, person)]
            if not theirs:
                continue
            t = app.translator_for(person)
            queued += await outbox.enqueue(
                session,
                person_id=person.id,
                reply=announcement(t, theirs),
                key=f"perks:{batch}:{person.id}",
                kind=OutboxKind.PERK,
                now=now,
            )
        return queued
