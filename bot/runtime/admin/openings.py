"""The console's Openings pages (issue 20): the list, post, edit, close, and one opening with its
matches and interest. Posting, editing and closing call the chat's own functions
(handlers/jobs_hr.py `save_opening`, `close_opening`): the same form, checks, matching, notices
to the matched alumni and audit."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.core import forms
from bot.core.clock import local_date
from bot.core.normalize import whole
from bot.core.types import FieldKind, Form, FormError, UserFacingError
from bot.runtime.admin import render
from bot.runtime.admin.auth import Viewer, form_of
from bot.runtime.app import App
from handlers import jobs, jobs_hr
from storage import audit, job_lists
from storage import jobs as store
from storage.models import Opening

DONE = ("posted", "updated", "closed")  # the result lines a redirect may ask for


def see_other(path: str, **query: object) -> Response:
    shown = {k: str(v) for k, v in query.items() if v is not None}
    return RedirectResponse(path + ("?" + urlencode(shown) if shown else ""), status_code=303)


async def openings_list(app: App, request: Request, who: Viewer) -> Response:
    number = render.page_number(request)
    async with app.db.transaction() as session:
        listed, more = await job_lists.openings_page(session, number)
    rows = [
        {"o": x.opening, "matches": x.matches, "interested": x.interested,
         "created": who.local(x.opening.created_at)}
        for x in listed
    ]  # fmt: skip
    return render.page(who.t, "openings.html", viewer=who, rows=rows, number=number, more=more)


def _fields(form: Form, answers: dict[str, str] | None) -> list[dict[str, Any]]:
    """The form's fields for the template, with what was typed (or the opening's values)."""
    return [
        {"f": f, "value": f.initial if answers is None else answers.get(f.name, ""),
         "long": f.kind == FieldKind.LONG_TEXT, "choice": f.kind == FieldKind.CHOICE}
        for f in form.fields
    ]  # fmt: skip


def _form_page(
    who: Viewer,
    form: Form,
    action: str,
    answers: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    status = 400 if errors else 200
    return render.page(who.t, "openings_form.html", status, viewer=who, title=form.title,
                       action=action, fields=_fields(form, answers),
                       errors=errors or {})  # fmt: skip


async def _opening(app: App, request: Request) -> Opening | None:
    async with app.db.transaction() as session:
        return await store.get(session, str(request.path_params.get("number", "")))


async def new_opening(app: App, request: Request, who: Viewer) -> Response:
    """GET: the chat's postjob form as a page; POST: post it as the chat's form does."""
    form = jobs_hr.opening_form(who.t, app.settings, None)
    if request.method == "GET":
        return _form_page(who, form, "/admin/openings/new")
    return await _submit(app, request, who, form, None, "/admin/openings/new")


async def edit_opening(app: App, request: Request, who: Viewer) -> Response:
    opening = await _opening(app, request)
    if opening is None:
        return render.message(who.t, 404, "console_openings.unknown", who)
    form = jobs_hr.opening_form(who.t, app.settings, opening)
    action = f"/admin/openings/{opening.id}/edit"
    if request.method == "GET":
        return _form_page(who, form, action)
    return await _submit(app, request, who, form, opening.id, action)


async def _submit(
    app: App, request: Request, who: Viewer, form: Form, opening_id: int | None, action: str
) -> Response:
    answers = await form_of(request)
    now, t = app.clock.now(), who.t
    zone = who.zone
    today = local_date(now, zone)
    values, problems = forms.parse_answers(form, answers, today, zone)
    if problems:
        errors = {name: t(exc.key, **exc.params) for name, exc in problems.items()}
        return _form_page(who, form, action, answers, errors)
    try:
        async with app.db.transaction() as session:
            opening = await session.get(Opening, opening_id) if opening_id else None
            saved = await jobs_hr.save_opening(session, app.settings, app.catalogs, now, today,
                                               who.person, opening, values, via="web")  # fmt: skip
    except FormError as exc:  # rolled back: nothing posted or changed
        errors = {name: t(key, **exc.params) for name, key in exc.errors.items()}
        return _form_page(who, form, action, answers, errors)
    done = "posted" if saved.created else "updated"
    return see_other(f"/admin/openings/{saved.opening.id}", done=done,
                     matched=len(saved.found), told=saved.told)  # fmt: skip


async def close_opening(app: App, request: Request, who: Viewer) -> Response:
    opening = await _opening(app, request)
    if opening is None:
        return render.message(who.t, 404, "console_openings.unknown", who)
    try:
        async with app.db.transaction() as session:
            row = await session.get(Opening, opening.id)
            assert row is not None
            await jobs_hr.close_opening(session, app.clock.now(), who.person, row, via="web")
    except UserFacingError as exc:
        return await _show(app, request, who, opening, who.t(exc.key, **exc.params), 400)
    return see_other(f"/admin/openings/{opening.id}", done="closed")


async def opening_page(app: App, request: Request, who: Viewer) -> Response:
    opening = await _opening(app, request)
    if opening is None:
        return render.message(who.t, 404, "console_openings.unknown", who)
    return await _show(app, request, who, opening)


def _result(who: Viewer, request: Request, opening: Opening) -> list[str]:
    """The one-line result a redirect asked for (`done=posted&matched=3&told=2`)."""
    q, t = request.query_params, who.t
    done = q.get("done", "")
    if done not in DONE:
        return []
    if done == "closed":
        return [t("jobs.closed_ok", id=opening.id, title=opening.title)]
    shown = [t(f"jobs.{done}", card=jobs.card(t, opening))]
    matched, told = q.get("matched", ""), q.get("told", "")
    count, sent = whole(matched), whole(told)
    if count is not None and sent is not None:
        shown.append(t("jobs.matched", count=count, told=sent) if count
                     else t("jobs.no_matches"))  # fmt: skip
    return shown


async def _show(
    app: App,
    request: Request,
    who: Viewer,
    opening: Opening,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    """One opening: its card, the match count (admins also see who) and the interest."""
    number = render.page_number(request)
    async with app.db.transaction() as session:
        count = await store.count_matches(session, opening.id)
        interest = await job_lists.interest_count(session, opening.id)
        matched, more = await job_lists.matches_page(session, opening.id, number) if (
            who.is_admin) else ([], False)  # fmt: skip
        interested, _ = await job_lists.interest_page(session, opening.id)
        await audit.record(session, app.clock.now(), who.person.id, "opening_view",
                           f"opening:{opening.id}", via="web", rows=who.is_admin)  # fmt: skip
    t = who.t
    values = {
        "o": opening, "card": jobs.card(t, opening), "count": count, "interest": interest,
        "matched": [{"m": m, "notified": who.local(m.notified_at),
                     "why": jobs.reason_text(t, m.reason)} for m in matched],
        "interested": [{"i": i, "at": who.local(i.at)} for i in interested],
        "more": more, "number": number, "problem": problem,
        "result": _result(who, request, opening),
        "state": t("jobs.state.open" if opening.status == "open" else "jobs.state.closed"),
    }  # fmt: skip
    return render.page(t, "openings_one.html", status, viewer=who, **values)
