"""The console's Perks pages (issue 20): the list with claims and codes used, the chat's
`postperk` form (handlers/perks.py `perk_form`, `create`, `parse_codes`), and one perk's
claims: HR sees how many, admins also who and when."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.core.clock import local_date
from bot.core.types import Form
from bot.runtime.admin import chat_forms, render
from bot.runtime.admin.auth import Viewer, form_of
from bot.runtime.admin.events import PAGE_SIZE, fields
from bot.runtime.app import App
from handlers import perks as chat
from storage import audit
from storage import perks as store


async def perks_list(app: App, request: Request, who: Viewer) -> Response:
    number = render.page_number(request)
    now = app.clock.now()
    today = local_date(now, who.zone)
    async with app.db.transaction() as session:
        found = await store.recent(session, PAGE_SIZE + 1, (number - 1) * PAGE_SIZE)
        shown = found[:PAGE_SIZE]
        numbers = await store.stats(session, [p.id for p in shown])
        await audit.record(session, now, who.person.id, "perks_view", None, via="web")
    rows = [
        {"perk": p, "stats": numbers[p.id],
         "expired": p.valid_until is not None and p.valid_until < today}
        for p in shown
    ]  # fmt: skip
    done = who.t("console_perks.created") if request.query_params.get("done") == "1" else None
    return render.page(who.t, "perks.html", viewer=who, rows=rows, number=number,
                       more=len(found) > PAGE_SIZE, done=done)  # fmt: skip


async def perk_new(app: App, request: Request, who: Viewer) -> Response:
    """The chat's perk form; a POST runs the chat's `create`."""
    sent = await form_of(request) if request.method == "POST" else None
    form = chat.perk_form(who.t)
    problem = None
    if sent is not None:
        async with app.db.transaction() as session:
            ctx = chat_forms.context(app, session, who)
            _, problem = await chat_forms.run(ctx, chat.create, chat_forms.incoming(who, "", sent),
                                              form)  # fmt: skip
        if problem is None:
            return RedirectResponse("/admin/perks?done=1", 303)
    return render.page(who.t, "perks_form.html", 400 if problem else 200, viewer=who,
                       fields=fields(form, sent), choices=_choices(form),
                       problem=problem)  # fmt: skip


def _choices(form: Form) -> dict[str, tuple[tuple[str, str], ...]]:
    return {f.name: f.choices for f in form.fields if f.choices}


async def perk_claims(app: App, request: Request, who: Viewer) -> Response:
    perk_id = int(request.path_params["perk_id"])
    number = render.page_number(request)
    zone = who.zone
    async with app.db.transaction() as session:
        perk = await store.get(session, perk_id)
        if perk is None:
            return render.message(who.t, 404, "console_perks.not_found", who)
        numbers = (await store.stats(session, [perk.id]))[perk.id]
        rows = []
        if who.is_admin:
            rows = await store.claimers(session, perk.id, PAGE_SIZE + 1, (number - 1) * PAGE_SIZE)
        await audit.record(session, app.clock.now(), who.person.id, "perk_claims_view",
                           f"perk:{perk.id}", via="web", names=who.is_admin)  # fmt: skip
    claims = [
        {"name": person.name, "when": who.t.date(claim.claimed_at.astimezone(zone).date())}
        for claim, person in rows[:PAGE_SIZE]
    ]
    return render.page(who.t, "perks_claims.html", viewer=who, perk=perk, stats=numbers,
                       claims=claims, number=number, more=len(rows) > PAGE_SIZE)  # fmt: skip
