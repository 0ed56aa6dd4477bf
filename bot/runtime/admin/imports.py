"""The console's Import page (admins): upload a people, relations or openings CSV, the same
import as `alumni-bot import KIND FILE.csv` (handlers/imports.py). All or nothing: a bad file
shows its rows' problems by line number, in the viewer's language (storage.importer.RowProblem),
and imports nothing; a good one, what was imported."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.core.normalize import whole
from bot.runtime.admin import auth, render
from bot.runtime.admin.auth import Viewer
from bot.runtime.app import App
from handlers import imports
from storage import audit
from storage.importer import ImportFailed

FILE_FIELD = "file"
COUNTS = ("created", "updated", "unchanged")
SHOWN_ERRORS = 200  # a file wrong on every row lists the first ones and says how many


def _done(request: Request) -> dict[str, int] | None:
    q = request.query_params
    counts = {k: whole(q.get(k, "")) for k in COUNTS}
    if q.get("kind") not in imports.KINDS or None in counts.values():
        return None
    return {k: n for k, n in counts.items() if n is not None}


def _show(who: Viewer, status: int = 200, **values: object) -> Response:
    values.setdefault("kind", "people")
    return render.page(who.t, "import.html", status, viewer=who, kinds=imports.KINDS,
                       limit_mb=auth.FILE_LIMIT // (1024 * 1024), **values)  # fmt: skip


async def import_page(app: App, request: Request, who: Viewer) -> Response:
    if request.method == "GET":
        kind = request.query_params.get("kind", "people")
        return _show(who, done=_done(request), kind=kind if kind in imports.KINDS else "people")
    form = await auth.form_of(request)
    kind = form.get("kind", "")
    upload = await auth.upload_of(request, FILE_FIELD)
    if kind not in imports.KINDS:
        return _show(who, 400, problem=who.t("console_import.bad_kind"))
    if upload is None or not upload[1]:
        return _show(who, 400, kind=kind, problem=who.t("console_import.no_file"))
    if len(upload[1]) > auth.FILE_LIMIT:
        return _show(who, 413, kind=kind, problem=who.t("console_import.too_large"))
    name, data = upload
    now = app.clock.now()
    try:
        async with app.db.transaction() as session:
            result = await imports.run(app, session, kind, data, now)
            counts = {k: getattr(result, k) for k in COUNTS}
            await audit.record(session, now, who.person.id, "import", kind, via="web",
                               file=name[:200], **counts)  # fmt: skip
    except ImportFailed as exc:
        async with app.db.transaction() as session:
            await audit.record(session, now, who.person.id, "import", kind, allowed=False,
                               via="web", file=name[:200], errors=len(exc.errors))  # fmt: skip
        errors = [
            who.t("console_import.row_error", number=e.number, problem=e.said(who.t))
            for e in exc.errors[:SHOWN_ERRORS]
        ]
        return _show(who, 400, kind=kind, errors=errors, more=len(exc.errors) - len(errors),
                     problem=who.t("console_import.failed", count=len(exc.errors)))  # fmt: skip
    query = urlencode({"kind": kind, **{k: getattr(result, k) for k in COUNTS}})
    return RedirectResponse(f"/admin/import?{query}", 303)
