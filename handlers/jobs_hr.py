"""Comeback openings, HR's side: `postjob` (a form), `postjob list`, `postjob edit N`,
`postjob close N`, and the edit / close / broadcast buttons on an opening. Posting or editing
matches the opening and tells the best matches (handlers/jobs.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import matching
from bot.core.i18n import Catalogs, Translator
from bot.core.settings import Settings
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
from handlers import jobs
from storage import audit
from storage import jobs as store
from storage.models import Opening, Person

# -- HR: post, edit, close, list --------------------------------------------------------------


async def postjob(ctx: Context, msg: Incoming) -> Reply:
    word = msg.args[0].lower() if msg.args else ""
    if word in ("list", "一覧"):
        return await _manage_list(ctx)
    if word in ("edit", "編集", "close", "締切", "終了") and len(msg.args) == 2:
        opening = await jobs.opening_for(ctx, msg.args[1], must_be_open=False)
        if word in ("edit", "編集"):
            return _form(ctx, opening)
        return await _close(ctx, opening)
    if msg.args:
        raise UserFacingError("jobs.postjob_usage")
    return _form(ctx, None)


def _form(ctx: Context, o: Opening | None) -> Reply:
    return Reply("", form=opening_form(ctx.t, ctx.settings, o))


def opening_form(t: Translator, settings: Settings, o: Opening | None) -> Form:
    """The postjob form (chat and web console): its fields, filled in when editing `o`."""
    m = settings.matching
    yes_no = (("no", t("jobs.onsite")), ("yes", t("jobs.remote_ok")))
    types = tuple((k, t(f"jobs.type.{k}")) for k in store.EMPLOYMENT_TYPES)
    hint = t("jobs.skills_hint", max=m.max_skills)
    fields: tuple[FormField, ...] = (
        FormField("title", t("jobs.field.title"), max_length=200),
        FormField("department", t("jobs.field.department"), required=False, max_length=200),
        FormField(
            "description", t("jobs.field.description"), FieldKind.LONG_TEXT,
            max_length=jobs.MAX_DESCRIPTION,
        ),
        FormField("skills", t("jobs.field.skills"), hint=hint, max_length=3000),
        FormField(
            "nice_to_have", t("jobs.field.nice_to_have"), required=False, hint=hint,
            max_length=3000,
        ),
        FormField("location", t("jobs.field.location"), required=False, max_length=200),
        FormField("remote", t("jobs.field.remote"), FieldKind.CHOICE, choices=yes_no),
        FormField("employment_type", t("jobs.field.employment_type"), FieldKind.CHOICE,
                  choices=types),
        FormField(
            "welcome_note", t("jobs.field.welcome_note"), FieldKind.LONG_TEXT, required=False,
            hint=t("jobs.welcome_hint"), max_length=1000,
        ),
        FormField(
            "closes_on", t("jobs.field.closes_on"), FieldKind.DATE, required=False,
            hint=t("jobs.closes_hint"), max_length=20,
        ),
    )  # fmt: skip
    if o is not None:
        initial = {
            "title": o.title,
            "department": o.department or "",
            "description": o.description,
            "skills": "; ".join(o.skills),
            "nice_to_have": "; ".join(o.nice_to_have),
            "location": o.location or "",
            "remote": "yes" if o.remote else "no",
            "employment_type": o.employment_type or "",
            "welcome_note": o.welcome_note or "",
            "closes_on": o.closes_on.isoformat() if o.closes_on else "",
        }
        fields = tuple(replace(f, initial=initial[f.name]) for f in fields)
    title = t("jobs.form_title") if o is None else t("jobs.edit_title", id=o.id)
    payload = "" if o is None else str(o.id)
    return Form(title=title, submit_action="jobs.save", fields=fields, payload=payload)


def opening_values(
    v: dict[str, str], o: Opening | None, today: date, settings: Settings
) -> dict[str, Any]:
    """The form's checked answers as an opening's columns, or FormError {field: key}."""
    m = settings.matching
    skills = store.split_skills(v.get("skills", ""))
    nice = store.split_skills(v.get("nice_to_have", ""))
    errors = {
        name: problem
        for name, items, required in (("skills", skills, True), ("nice_to_have", nice, False))
        if (problem := store.skills_problem(items, m.max_skills, required=required))
    }
    if errors:
        raise FormError(errors, max=m.max_skills, chars=store.MAX_SKILL_CHARS)
    closes = date.fromisoformat(v["closes_on"]) if v.get("closes_on") else None
    if closes and closes < today and (o is None or closes != o.closes_on):
        raise FormError({"closes_on": "jobs.closes_in_past"})
    kind = v.get("employment_type")
    location = v.get("location") or None
    return {
        "title": v.get("title", "").strip() or (o.title if o else ""),
        "department": v.get("department") or None,
        "description": v.get("description", ""),
        "skills": skills,
        "nice_to_have": nice,
        "location": location,
        "remote": v.get("remote") == "yes" or store.is_remote(location),
        "employment_type": kind if kind in store.EMPLOYMENT_TYPES else None,
        "welcome_note": v.get("welcome_note") or None,
        "closes_on": closes,
    }


async def save(ctx: Context, msg: Incoming) -> Reply:
    """The postjob/edit form is complete: save, match, tell the best matches."""
    opening = await jobs.opening_for(ctx, msg.payload, must_be_open=False) if msg.payload else None
    saved = await save_opening(ctx.session, ctx.settings, ctx.catalogs, ctx.now, ctx.today,
                               ctx.me, opening, msg.values)  # fmt: skip
    t, opening, found = ctx.t, saved.opening, saved.found
    key = "jobs.posted" if saved.created else "jobs.updated"
    text = t(key, card=jobs.card(t, opening))
    text += "\n" + (
        t("jobs.matched", count=len(found), told=saved.told) if found else t("jobs.no_matches")
    )
    return Reply(text, buttons=(_manage_row(t, opening),))


@dataclass(frozen=True)
class Saved:
    opening: Opening
    created: bool
    found: list[matching.Found]  # the matches stored now
    told: int  # job notices queued


async def save_opening(
    session: AsyncSession,
    settings: Settings,
    catalogs: Catalogs,
    now: datetime,
    today: date,
    actor: Person,
    opening: Opening | None,
    answers: dict[str, str],
    via: str | None = None,
) -> Saved:
    """Post (`opening` None) or edit an opening from the form's answers, match it and tell the
    best matches, audited: the one way chat (`save`) and web console post. FormError on bad
    answers, nothing changed."""
    values = opening_values(answers, opening, today, settings)
    if not values["title"]:
        raise FormError({"title": "form.required"})
    created = opening is None
    if opening is None:
        opening = Opening(**values, status="open", owner_id=actor.id, created_at=now)
        session.add(opening)
    else:
        for key, value in values.items():
            setattr(opening, key, value)
    await session.flush()
    found = await jobs.match_and_store(session, settings, [opening], now)
    told = await jobs.send_notices(session, catalogs, settings, now, [f.person_id for f in found])
    extra: dict[str, Any] = {"via": via} if via else {}
    await audit.record(session, now, actor.id, "postjob" if created else "editjob",
                       f"opening:{opening.id}", matches=len(found), **extra)  # fmt: skip
    return Saved(opening, created, found, told)


def _manage_row(t: Translator, o: Opening) -> tuple[Button, ...]:
    return (
        Button(t("jobs.edit_button", id=o.id), "jobs.edit", str(o.id)),
        Button(t("jobs.close_button", id=o.id), "jobs.close", str(o.id), style="danger"),
        Button(t("jobs.broadcast_button", id=o.id), "jobs.broadcast", str(o.id)),
    )


async def _manage_list(ctx: Context) -> Reply:
    openings = await store.all_openings(ctx.session)
    if not openings:
        raise UserFacingError("jobs.none_posted")
    t, lines, rows = ctx.t, [ctx.t("jobs.manage_title")], []
    for o in openings:
        state = t("jobs.state.open" if o.status == "open" else "jobs.state.closed")
        count = await store.count_matches(ctx.session, o.id)
        lines.append(f"{jobs.card(t, o)} [{state}] " + t("jobs.match_count", count=count))
        if o.status == "open":
            rows.append(_manage_row(t, o))
    return Reply("\n".join(lines), buttons=tuple(rows[:10]))


async def edit(ctx: Context, msg: Incoming) -> Reply:
    return _form(ctx, await jobs.opening_for(ctx, msg.payload, must_be_open=False))


async def close(ctx: Context, msg: Incoming) -> Reply:
    return await _close(ctx, await jobs.opening_for(ctx, msg.payload, must_be_open=False))


async def _close(ctx: Context, opening: Opening) -> Reply:
    await close_opening(ctx.session, ctx.now, ctx.me, opening)
    return Reply(ctx.t("jobs.closed_ok", id=opening.id, title=opening.title))


async def close_opening(
    session: AsyncSession, now: datetime, actor: Person, opening: Opening, via: str | None = None
) -> None:
    """Close an open opening, audited (chat and web console); UserFacingError if it is not."""
    if opening.status != "open":
        raise UserFacingError("jobs.already_closed", title=opening.title)
    opening.status = "closed"
    extra: dict[str, Any] = {"via": via} if via else {}
    await audit.record(session, now, actor.id, "closejob", f"opening:{opening.id}", **extra)


async def broadcast_opening(ctx: Context, msg: Incoming) -> Reply:
    """Send the opening to a segment: the broadcast feature's own form, its text filled in."""
    from handlers import broadcasts

    opening = await jobs.opening_for(ctx, msg.payload, must_be_open=True)
    started = await broadcasts.broadcast(ctx, replace(msg, args=()))
    if started.form is None:
        return started
    t = ctx.t
    text = "\n".join(
        x
        for x in (t("jobs.broadcast_text", card=jobs.card(t, opening)), opening.description,
                  opening.welcome_note or "", t("jobs.broadcast_footer", id=opening.id))
        if x
    )[: broadcasts.MAX_TEXT]  # fmt: skip
    fields = tuple(replace(f, initial=text) if f.name == "text" else f for f in started.form.fields)
    return replace(started, form=replace(started.form, fields=fields))
