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
from handlers.report_cells import Cell, Table
from storage import outcomes as ledger
from storage.models import Outcome, Person, Role
from storage.reports import roi as report_roi
from storage.reports.funnels import Funnel
from storage.reports.sections import MIN_GROUP

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
    """The outcome a button is about: HR change only what they recorded (a value per person is
    an admin's to see), admins any."""
    try:
        found = await ledger.get(ctx.session, payload)
    except ledger.BadOutcome as exc:
        raise UserFacingError(exc.key, **exc.params) from None
    if found.recorded_by != ctx.me.id and not ctx.has_role(Role.ADMIN):
        raise UserFacingError("outcomes.not_yours", id=found.id)
    return found


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


# -- the ROI section (`report roi`; handlers/report_tables.py draws and renders it) -------------


def _why(t: Translator, links: report_roi.Links) -> str:
    """The links of one outcome, each named by its rule."""
    parts = []
    if links.interest:
        parts.append(t("roi.why.interest", openings=", ".join(links.interest)))
    if links.referral:
        parts.append(t("roi.why.referral", referrals=", ".join(links.referral)))
    if links.event:
        parts.append(t("roi.why.event", events=", ".join(links.event)))
    if links.intro:
        people = ", ".join(f"{name} ({t(f'roi.relation.{kind}')})" for name, kind in links.intro)
        parts.append(t("roi.why.intro", people=people))
    parts.append(t("roi.why.contacts", n=links.contacts))
    return "; ".join(parts)


def roi_tables(t: Translator, r: report_roi.Roi, f: Funnel) -> list[Table]:
    def hidden(*groups: report_roi.Group) -> str:
        shut = any(g.outcomes is None and g.people for g in groups)
        return t("admin.hidden_note", n=MIN_GROUP) if shut else ""

    def rows(groups: list[report_roi.Group], label: object) -> tuple[tuple[Cell, ...], ...]:
        name = label if callable(label) else str
        return tuple((name(g.label), g.people, g.outcomes, g.value) for g in groups)

    cols = ("", t("roi.col.people"), t("roi.col.outcomes"), t("roi.col.value"))
    by_kind = rows([*r.by_kind, r.total], lambda k: t(f"roi.kind.{k}"))
    out = [
        Table("roi", t("roi.table.by_kind"), cols, by_kind, (3,), hidden(*r.by_kind, r.total)),
        Table("roi", t("roi.table.by_quarter"), cols, rows(r.by_quarter, str), (3,),
              hidden(*r.by_quarter)),
        Table("roi", t("roi.table.per_100"),
              ("", t("roi.col.active"), t("roi.col.outcomes"), t("roi.col.per_100")),
              ((t("admin.everyone"), r.active,
                r.total.outcomes if r.per_100 is not None else None, r.per_100),),
              (3,), "" if r.per_100 is not None else t("admin.hidden_note", n=MIN_GROUP)),
        Table("roi", t("roi.table.by_frequency"),
              ("", t("roi.col.alumni"), t("roi.col.with_outcome"), t("roi.col.value"),
               t("roi.col.per_alumnus")),
              tuple((t("admin.bucket", label=b.label), b.alumni, b.with_outcome, b.value,
                     b.per_alumnus) for b in r.by_frequency),
              (4,), t("admin.hidden_note", n=MIN_GROUP)
              if any(b.value is None and b.alumni for b in r.by_frequency) else ""),
        Table("roi", t("roi.table.funnel"), ("", t("roi.col.count"), t("roi.col.value")), (
            (t("admin.stage.matched"), f.matched, None),
            (t("admin.stage.interested"), f.interested, None),
            (t("roi.stage.referred"), f.referrals["referral"][0] + f.referrals["interest"][0],
             None),
            (t("admin.stage.hired"), f.rehires, None),
            (t("roi.stage.value"), r.hires.outcomes, r.hires.value),
        ), (1,), hidden(r.hires)),
        Table("roi", t("roi.table.by_link"), cols,
              rows(r.by_link, lambda k: t(f"roi.link.{k}")), (3,),
              "\n".join(x for x in (t("roi.rule"), hidden(*r.by_link)) if x)),
    ]  # fmt: skip
    if r.ledger:  # admins only: it names people and their values
        ledger_rows = tuple(
            (f"O{x.id} {x.day.isoformat()} {x.name}", t(f"roi.kind.{x.kind}"), x.value,
             _why(t, x))
            for x in r.ledger
        )  # fmt: skip
        out.append(Table("roi", t("roi.table.ledger"),
                         ("", t("roi.col.kind"), t("roi.col.value"), t("roi.col.links")),
                         ledger_rows, (), t("roi.rule")))  # fmt: skip
    return out
