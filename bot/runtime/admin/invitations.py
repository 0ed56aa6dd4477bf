"""The console's Invitations page (HR, admins): each invitation campaign's funnel (invited,
mail delivered, bounced, unsubscribed, joined and where, consented) as `stats`, `reach` and the
report show it (storage/reports/invitations.py, handlers/report_tables.py), newest first,
PAGE_SIZE campaigns a page, each dated in the viewer's time zone."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bot.core.normalize import number
from bot.runtime.admin import render
from bot.runtime.admin.auth import Viewer
from bot.runtime.app import App
from handlers import report_tables
from storage import audit
from storage.reports import invitations as invitation_funnel

PAGE_SIZE = 50


async def invitations_page(app: App, request: Request, who: Viewer) -> Response:
    text = request.query_params.get("before", "")
    before = number(text)
    async with app.db.transaction() as session:
        found = await invitation_funnel.funnels(session, limit=PAGE_SIZE + 1, before=before)
        await audit.record(session, app.clock.now(), who.person.id, "report_view", "invitations",
                           via="web")  # fmt: skip
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    zone = who.zone
    table = report_tables.invitations_table(who.t, found, zone)
    shown = {"title": table.title, "columns": table.columns, "note": table.note,
             "rows": [[report_tables.cell(c) for c in row] for row in table.rows]}  # fmt: skip
    return render.page(who.t, "import_invitations.html", viewer=who, table=shown,
                       older=found[-1].id if more and found else None,
                       first=before is not None)  # fmt: skip
