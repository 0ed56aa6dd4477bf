"""The console's Broadcasts: the list, composing one for a segment (its count and the message
as each language will get it), Send or Cancel, then its delivery progress, which refreshes
itself while it is sent. Every step is the chat's own function (handlers/broadcasts.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.core.settings import LOCALES
from bot.core.types import UserFacingError
from bot.runtime.admin import render
from bot.runtime.admin.auth import Viewer, form_of
from bot.runtime.app import App
from handlers import broadcast_drafts as drafts
from handlers import broadcasts as feature
from storage import audit
from storage import broadcasts as store
from storage.models import Broadcast

PAGE_SIZE = 50
# The one-line results a redirect carries (`?note=`), each a catalog key of the chat's.
NOTES = {"queued": "broadcasts.queued", "cancelled": "broadcasts.cancelled",
         "not_draft": "broadcasts.not_draft", "nobody": "broadcasts.nobody"}  # fmt: skip


def _form_values(form: dict[str, str] | None = None) -> dict[str, Any]:
    form = form or {}
    return {"text": form.get("text", ""), "kind": form.get("segment", "all"),
            "target": form.get("target", ""), "urgent": form.get("urgent") == "yes"}  # fmt: skip


async def _list_page(
    app: App, request: Request, who: Viewer, status: int = 200, **extra: Any
) -> Response:
    number = render.page_number(request)
    async with app.db.transaction() as session:
        found = await store.listing(session, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
    zone = who.zone.key
    rows = [
        {"id": b.id, "when": who.t.datetime(b.created_at, zone), "text": b.text[:80],
         "segment": feature.segment_label(who.t, store.parse_segment(b.segment)),
         "state": who.t(f"broadcasts.state.{b.status}"), "recipients": b.recipients}
        for b in found[:PAGE_SIZE]
    ]  # fmt: skip
    values: dict[str, Any] = {"form": _form_values(), "problem": None}
    values.update(extra)
    return render.page(who.t, "broadcasts.html", status, viewer=who, rows=rows, number=number,
                       more=len(found) > PAGE_SIZE, kinds=store.SEGMENT_KINDS,
                       max_text=feature.MAX_TEXT, **values)  # fmt: skip


async def index(app: App, request: Request, who: Viewer) -> Response:
    """GET: the list and the compose form; POST: save the composed draft and show its preview."""
    if request.method == "GET":
        return await _list_page(app, request, who)
    form = await form_of(request)
    values = _form_values(form)
    now = app.clock.now()
    async with app.db.transaction() as session:
        try:
            made = await drafts.make_draft(session, app.settings, author_id=who.person.id,
                                            text=values["text"], kind=values["kind"],
                                            target=values["target"], urgent=values["urgent"],
                                            now=now)  # fmt: skip
        except drafts.BadDraft as exc:
            made, problem = None, who.t(exc.key, **exc.params)
        else:
            problem = who.t("broadcasts.nobody")
        if made is not None:
            await audit.record(session, now, who.person.id, "broadcast_draft",
                               f"broadcast:{made.broadcast.id}", via="web",
                               segment=made.broadcast.segment, count=made.total)  # fmt: skip
    if made is None:
        return await _list_page(app, request, who, 400, form=values, problem=problem)
    return RedirectResponse(f"/admin/broadcasts/{made.broadcast.id}", 303)


async def detail(app: App, request: Request, who: Viewer) -> Response:
    """A draft: its count and preview in each language, with Send and Cancel. Otherwise: its
    delivery progress, refreshed every 3 seconds while it is being sent."""
    number = int(request.path_params["number"])
    async with app.db.transaction() as session:
        item = await session.get(Broadcast, number) if number <= drafts.MAX_ID else None
        if item is None:
            return render.message(who.t, 404, "broadcasts.unknown", who)
        segment = store.parse_segment(item.segment)
        if item.status == "draft":
            counts = drafts.by_language(app.settings, await store.count(session, segment))
        else:
            report = await store.report(session, item)
    t = who.t
    label = feature.segment_label(t, segment)
    key = NOTES.get(request.query_params.get("note", ""))
    note = t(key, id=item.id, count=item.recipients) if key else None
    if item.status == "draft":
        previews = []
        for loc in LOCALES:
            sample = feature.message_for(app.catalogs, loc, item)
            previews.append({"locale": loc, "language": t(f"locale.{loc}"), "text": sample.text,
                             "buttons": [b.label for b in sample.all_buttons()]})  # fmt: skip
        return render.page(t, "broadcasts_preview.html", viewer=who, item=item, segment=label,
                           total=sum(counts.values()), counts=counts, previews=previews,
                           note=note)  # fmt: skip
    return render.page(t, "broadcasts_progress.html", viewer=who, item=item, report=report,
                       segment=label, interested=report.clicks.get(feature.INTERESTED, 0),
                       live=item.status == "queued", note=note)  # fmt: skip


async def confirm(app: App, request: Request, who: Viewer) -> Response:
    """Send the draft: queued exactly as the chat's Send does. A second Send (a double click,
    another tab) finds it no longer a draft and queues nothing."""
    number = str(request.path_params["number"])
    now = app.clock.now()
    async with app.db.transaction() as session:
        try:
            draft, queued = await feature.send(session, app.catalogs, app.settings, number, now)
        except UserFacingError as exc:
            if exc.key == "broadcasts.unknown":
                return render.message(who.t, 404, exc.key, who)
            return RedirectResponse(f"/admin/broadcasts/{number}?note=not_draft", 303)
        await audit.record(session, now, who.person.id, "broadcast", f"broadcast:{draft.id}",
                           via="web", segment=draft.segment, recipients=queued)  # fmt: skip
    note = "queued" if queued else "nobody"
    return RedirectResponse(f"/admin/broadcasts/{number}?note={note}", 303)


async def cancel(app: App, request: Request, who: Viewer) -> Response:
    number = str(request.path_params["number"])
    async with app.db.transaction() as session:
        try:
            draft = await drafts.discard(session, number)
        except UserFacingError as exc:
            if exc.key == "broadcasts.unknown":
                return render.message(who.t, 404, exc.key, who)
            return RedirectResponse(f"/admin/broadcasts/{number}?note=not_draft", 303)
        await audit.record(session, app.clock.now(), who.person.id, "broadcast_cancel",
                           f"broadcast:{draft.id}", via="web")  # fmt: skip
    return RedirectResponse(f"/admin/broadcasts/{number}?note=cancelled", 303)
