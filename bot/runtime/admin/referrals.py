"""The console's Referrals page (issue 20): the pipeline's counts by stage, its referrals a page
at a time, and a button per next stage. Moving calls the chat's own function
(handlers/referrals.py `move_stage`): the referrer is told in their language through the outbox,
a hire records its outcome, and the move is audited."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bot.core.clock import local_date
from bot.core.normalize import number as as_number
from bot.core.types import UserFacingError
from bot.runtime.admin import render
from bot.runtime.admin.auth import Viewer, form_of
from bot.runtime.admin.openings import see_other
from bot.runtime.app import App
from handlers import referrals as chat
from storage import audit
from storage import referrals as store

PAGE_SIZE = 25


async def pipeline(app: App, request: Request, who: Viewer) -> Response:
    q = request.query_params
    moved, outcome = as_number(q.get("moved", "")), as_number(q.get("outcome", ""))
    result = [who.t("referrals.moved", id=moved)] if moved else []
    if outcome:
        result.append(who.t("console_openings.hire_recorded", id=outcome))
    return await _show(app, request, who, result)


async def _show(
    app: App, request: Request, who: Viewer, result: list[str], problem: str | None = None
) -> Response:
    number, t = render.page_number(request), who.t
    async with app.db.transaction() as session:
        counts = await store.stage_counts(session)
        found = await store.pipeline(session, limit=PAGE_SIZE + 1,
                                     offset=(number - 1) * PAGE_SIZE)  # fmt: skip
        await audit.record(
            session, app.clock.now(), who.person.id, "referrals_view", None, via="web"
        )
    rows = [
        {"item": x, "r": x.referral, "stage": t(f"referrals.status.{x.referral.status}"),
         "kind": t(f"console_openings.kind.{x.referral.kind}"),
         "updated": who.local(x.referral.updated_at),
         "moves": [(to, t(f"referrals.status.{to}")) for to in
                   store.next_stages(x.referral.status)]}
        for x in found[:PAGE_SIZE]
    ]  # fmt: skip
    stages = [(t(f"referrals.status.{s}"), n) for s, n in counts.items()]
    return render.page(t, "openings_referrals.html", 400 if problem else 200, viewer=who,
                       rows=rows, stages=stages, number=number, more=len(found) > PAGE_SIZE,
                       result=result, problem=problem)  # fmt: skip


async def move(app: App, request: Request, who: Viewer) -> Response:
    """A stage button: move the referral as the chat's button does, then back to the list."""
    number = str(request.path_params.get("number", ""))
    to = (await form_of(request)).get("to", "")
    now = app.clock.now()
    today = local_date(now, who.zone)
    try:
        async with app.db.transaction() as session:
            moved = await chat.move_stage(session, app, now, today, who.person, number, to, who.t,
                                          via="web")  # fmt: skip
    except UserFacingError as exc:  # rolled back: nothing moved, nobody told
        return await _show(app, request, who, [], who.t(exc.key, **exc.params))
    hired = moved.hired.id if moved.hired is not None else None
    page = request.query_params.get("page")
    return see_other("/admin/referrals", moved=moved.referral.id, outcome=hired,
                     page=as_number(page or ""))  # fmt: skip
