"""The console's pages. Each reads through the features' own storage queries and formatting
(handlers/admin.py's `stats` lines, storage/reports/…): no business logic here."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from bot.core.clock import local_date
from bot.runtime.admin import render
from bot.runtime.admin.auth import Viewer
from bot.runtime.app import App
from handlers import report_charts, report_tables
from handlers.admin import stats_lines
from storage import audit, auditlog
from storage.reports import engagement_log, exports, people_list
from storage.reports.filter import BadFilter, Filter, make_filter
from storage.reports.stats import stats as compute_stats


async def dashboard(app: App, request: Request, who: Viewer) -> Response:
    now, zone = app.clock.now(), who.zone.key
    async with app.db.transaction() as session:
        figures = await compute_stats(session, now, zone)
        await audit.record(session, now, who.person.id, "stats_view", None, via="web")
    today = local_date(now, who.zone)
    return render.page(who.t, "dashboard.html", viewer=who,
                       lines=stats_lines(who.t, today, figures))  # fmt: skip


def _filtered(app: App, request: Request, who: Viewer) -> tuple[dict[str, Any], Filter | None]:
    """The report's filter from the query string (`from`, `to`, `segment`, `page`), and the
    form's values; a bad one gives its friendly message as `problem` and no filter."""
    q = request.query_params
    start, end, segment = q.get("from", ""), q.get("to", ""), q.get("segment", "")
    today = local_date(app.clock.now(), who.zone)
    values: dict[str, Any] = {"start": start, "end": end, "segment": segment, "problem": None,
                              "number": render.page_number(request), "more": False}  # fmt: skip
    try:
        f = make_filter(today, start or None, end or None, segment or None,
                        zone=app.settings.default_timezone)  # fmt: skip
    except BadFilter as exc:
        values["problem"] = who.t(exc.key, **exc.params)
        return values, None
    values.update(
        start=f.start.isoformat(),
        end=f.end.isoformat(),
        period=f.describe(),
        query=urlencode(
            {"from": f.start.isoformat(), "to": f.end.isoformat(), "segment": str(f.segment)}
        ),
    )
    return values, f


async def interactions(app: App, request: Request, who: Viewer) -> Response:
    """HR sees the counts; admins also see who met whom, a page at a time."""
    values, f = _filtered(app, request, who)
    if f is None:
        return render.page(who.t, "interactions.html", 400, viewer=who, log=None, **values)
    async with app.db.transaction() as session:
        log = await engagement_log.page(session, f, number=values["number"],
                                        with_rows=who.is_admin)  # fmt: skip
        await audit.record(session, app.clock.now(), who.person.id, "interactions_view", None,
                           via="web", filter=f.describe(), rows=who.is_admin)  # fmt: skip
    values["more"] = len(log.rows) == engagement_log.PAGE_SIZE
    return render.page(who.t, "interactions.html", viewer=who, log=log, **values)


async def interactions_csv(app: App, request: Request, who: Viewer) -> Response:
    """Admins: the engagement log as the `export interactions` CSV, with the page's filter."""
    values, f = _filtered(app, request, who)
    if f is None:
        return render.page(who.t, "interactions.html", 400, viewer=who, log=None, **values)
    async with app.db.transaction() as session:
        data, count = await exports.to_bytes(session, "interactions", f)
        await audit.record(session, app.clock.now(), who.person.id, "export", "interactions",
                           via="web", filter=f.describe(), rows=count)  # fmt: skip
    name = f"interactions-{f.start.isoformat()}-{f.end.isoformat()}.csv"
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={**render.SECURITY_HEADERS,
                             "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


async def chart(app: App, request: Request, who: Viewer) -> Response:
    """A report section as the chat's PNG chart (`/admin/chart/activity.png?from=…`)."""
    section = str(request.path_params.get("section", ""))
    _, f = _filtered(app, request, who)
    if f is None or section not in report_tables.SECTIONS:
        return Response(status_code=404)
    async with app.db.transaction() as session:
        built = await report_tables.build(session, f, who.t, (section,), individuals=who.is_admin)
        await audit.record(
            session,
            app.clock.now(),
            who.person.id,
            "report_chart",
            section,
            via="web",
            filter=f.describe(),
        )
    title = f"{who.t(f'admin.section.{section}')} ({f.describe()})"
    png = await report_charts.render_async(title, built, who.t("admin.chart_empty"))
    return Response(png, media_type="image/png", headers=render.SECURITY_HEADERS)


async def outcomes(app: App, request: Request, who: Viewer) -> Response:
    """The report's ROI section: HR sees the totals, admins also the ledger that names people."""
    values, f = _filtered(app, request, who)
    if f is None:
        return render.page(who.t, "outcomes.html", 400, viewer=who, tables=[], **values)
    async with app.db.transaction() as session:
        found = await report_tables.build(session, f, who.t, ("roi",), individuals=who.is_admin)
        await audit.record(session, app.clock.now(), who.person.id, "report_view", "roi", via="web",
                           filter=f.describe())  # fmt: skip
    shown = [
        {"title": tb.title, "columns": tb.columns, "note": tb.note,
         "rows": [[report_tables.cell(c) for c in row] for row in tb.rows]}
        for tb in found
    ]  # fmt: skip
    return render.page(who.t, "outcomes.html", viewer=who, tables=shown, **values)


async def people_page(app: App, request: Request, who: Viewer) -> Response:
    """Admins: a segment's people a page at a time, or a name (kanji, kana, romaji) or email."""
    values, f = _filtered(app, request, who)
    values["q"] = request.query_params.get("q", "")[:100]
    if f is None:
        return render.page(who.t, "people.html", 400, viewer=who, found=None, **values)
    async with app.db.transaction() as session:
        found = await people_list.page(session, f, search=values["q"], caller_id=who.person.id,
                                       number=values["number"])  # fmt: skip
        await audit.record(session, app.clock.now(), who.person.id, "people_view", None, via="web",
                           filter=f.describe(), search=bool(values["q"]))  # fmt: skip
    values["more"] = found.more and not values["q"]
    values["query"] += "&" + urlencode({"q": values["q"]})
    return render.page(who.t, "people.html", viewer=who, found=found, **values)


async def audit_log(app: App, request: Request, who: Viewer) -> Response:
    zone = who.zone
    now = app.clock.now()
    async with app.db.transaction() as session:
        found = await auditlog.latest(session)
        await audit.record(session, now, who.person.id, "audit_view", None, via="web")
    entries = [
        {"when": e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
         "who": e.actor or who.t("admin.audit_system"), "action": e.action,
         "target": e.target, "allowed": e.allowed}
        for e in found
    ]  # fmt: skip
    return render.page(who.t, "audit.html", viewer=who, entries=entries)
