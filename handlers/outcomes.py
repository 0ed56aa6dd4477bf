"""The outcomes ledger in chat (issue 22): HR records what the network brought — a rehire, a
referral hire, a contract, a deal, a purchase — in a form, and corrects or withdraws it with
the buttons under the answer. The same checks and audit entries as the command line's
(storage/outcomes.py): a refusal sends the form back to the field it is about.

Who sees what: HR types the outcome and sees what they typed; values per person are listed
only to admins (the ROI report's ledger, `export outcomes`); HR's report shows aggregates.

Commands: `outcome` (HR). Buttons: outcome.save (the form), outcome.edit and outcome.correct
(a correction: the form again, filled in), outcome.withdraw."""

from __future__ import annotations

from bot.core.i18n import Translator
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
from storage import outcomes as ledger
from storage.models import Outcome, Person

FIELDS = ("kind", "email", "value", "salary", "currency", "rate", "on", "note")


def outcome_buttons(t: Translator, outcome_id: int) -> tuple[Button, ...]:
    return (
        Button(t("outcomes.correct_button", id=outcome_id), "outcome.edit", str(outcome_id)),
        Button(t("outcomes.withdraw_button", id=outcome_id), "outcome.withdraw",
               str(outcome_id), style="danger"),
    )  # fmt: skip


def _form(t: Translator, title: str, action: str, payload: str = "",
          initial: dict[str, str] | None = None) -> Form:  # fmt: skip
    start = initial or {}
    kinds = tuple((k, t(f"outcomes.kind.{k}")) for k in ledger.KINDS)
    fields = (
        FormField("kind", t("outcomes.field.kind"), FieldKind.CHOICE, choices=kinds,
                  initial=start.get("kind", "")),
        FormField("email", t("outcomes.field.email"), FieldKind.EMAIL, max_length=320,
                  initial=start.get("email", "")),
        FormField("value", t("outcomes.field.value"), required=False, max_length=40,
                  hint=t("outcomes.value_hint"), initial=start.get("value", "")),
        FormField("salary", t("outcomes.field.salary"), required=False, max_length=40,
                  initial=start.get("salary", "")),
        FormField("currency", t("outcomes.field.currency"), required=False, max_length=3,
                  initial=start.get("currency", ledger.YEN)),
        FormField("rate", t("outcomes.field.rate"), required=False, max_length=20,
                  initial=start.get("rate", "")),
        FormField("on", t("outcomes.field.on"), FieldKind.DATE, required=False,
                  initial=start.get("on", "")),
        FormField("note", t("outcomes.field.note"), FieldKind.LONG_TEXT, required=False,
                  max_length=ledger.NOTE_CHARS, initial=start.get("note", "")),
    )  # fmt: skip
    return Form(title=title, submit_action=action, fields=fields, payload=payload)


async def outcome(ctx: Context, msg: Incoming) -> Reply:
    """`outcome`: the form."""
    return Reply("", form=_form(ctx.t, ctx.t("outcomes.form_title"), "outcome.save"))


def _refuse(exc: ledger.BadOutcome) -> Exception:
    if exc.field in FIELDS:
        return FormError({exc.field: exc.key}, **exc.params)
    return UserFacingError(exc.key, **exc.params)


def _answer(ctx: Context, key: str, o: Outcome, person: Person) -> Reply:
    t = ctx.t
    text = t(key, id=o.id, kind=t(f"outcomes.kind.{o.kind}"), name=person.name,
             value=ledger.yen(o.value_yen), day=t.date(o.occurred_on))  # fmt: skip
    return Reply(text, buttons=(outcome_buttons(t, o.id),), private_only=True)


def _given(msg: Incoming) -> dict[str, str | None]:
    return {name: (msg.values.get(name) or "").strip() or None for name in FIELDS}


async def save(ctx: Context, msg: Incoming) -> Reply:
    given = _given(msg)
    try:
        person = await ledger.person_for(ctx.session, given.pop("email") or "")
        entry = ledger.validate(ctx.settings.outcomes, ctx.today, kind=given.pop("kind") or "",
                                **given)  # fmt: skip
        o = await ledger.record(ctx.session, person, entry, source="chat", actor_id=ctx.me.id,
                                now=ctx.now)  # fmt: skip
    except ledger.BadOutcome as exc:
        raise _refuse(exc) from None
    return _answer(ctx, "outcomes.recorded", o, person)


async def _live(ctx: Context, payload: str) -> Outcome:
    try:
        return await ledger.get(ctx.session, payload)
    except ledger.BadOutcome as exc:
        raise UserFacingError(exc.key, **exc.params) from None


async def edit(ctx: Context, msg: Incoming) -> Reply:
    """The correction form, filled in with what the outcome says now."""
    o = await _live(ctx, msg.payload)
    person = await ctx.session.get(Person, o.person_id)
    initial = {
        "kind": o.kind, "email": (person.email if person else "") or "",
        "value": ledger.original_value(o), "salary": str(o.salary_yen or ""),
        "currency": o.currency, "rate": f"{o.rate:g}" if o.rate else "",
        "on": o.occurred_on.isoformat(), "note": o.note or "",
    }  # fmt: skip
    title = ctx.t("outcomes.form_correct_title", id=o.id)
    return Reply("", form=_form(ctx.t, title, "outcome.correct", str(o.id), initial))


async def correct(ctx: Context, msg: Incoming) -> Reply:
    o = await _live(ctx, msg.payload)
    given = _given(msg)
    try:
        person = await ledger.person_for(ctx.session, given.pop("email") or "")
        await ledger.correct(ctx.session, o, ctx.settings.outcomes, ctx.today, person=person,
                             actor_id=ctx.me.id, now=ctx.now, **given)  # fmt: skip
    except ledger.BadOutcome as exc:
        raise _refuse(exc) from None
    return _answer(ctx, "outcomes.corrected", o, person)


async def withdraw(ctx: Context, msg: Incoming) -> Reply:
    o = await _live(ctx, msg.payload)
    await ledger.withdraw(ctx.session, o, actor_id=ctx.me.id, now=ctx.now)
    return Reply(ctx.t("outcomes.withdrawn_done", id=o.id), private_only=True)
