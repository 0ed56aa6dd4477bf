"""The console's Events pages (issue 20): the list, create, edit, cancel, and an event's RSVPs
and attendance. Every write is the chat's own handler (handlers/events_hr.py `create`,
`update`, `cancel`, `attend`), run through `chat_forms`, so the same checks apply and the
same people are told through the outbox. HR sees the counts; admins also see who."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.core.types import Form, Reply
from bot.runtime.admin import chat_forms, render
from bot.runtime.admin.auth import Viewer, form_of
from bot.runtime.app import App
from handlers import events as chat
from handlers import events_hr
from storage import audit
from storage import events as store
from storage.events import RsvpStatus
from storage.models import Event

PAGE_SIZE = 25  # events, or RSVPs, a page
DONE = frozenset({"created", "updated", "unchanged", "cancelled", "attended"})


def fields(form: Form, sent: dict[str, str] | None) -> list[dict[str, Any]]:
    """The form's fields as the template shows them, with what was typed kept."""
    return [
        {"name": f.name, "label": f.label, "hint": f.hint, "kind": str(f.kind),
         "required": f.required, "max": f.max_length,
         "value": sent.get(f.name, "") if sent is not None else f.initial}
        for f in form.fields
    ]  # fmt: skip


def when(who: Viewer, event: Event, app: App) -> str:
    return chat.when(who.t, event, who.zone.key)


async def events_list(app: App, request: Request, who: Viewer) -> Response:
    past = request.query_params.get("past") == "1"
    number = render.page_number(request)
    async with app.db.transaction() as session:
        found = await store.listed(session, app.clock.now(), past=past, number=number,
                                   size=PAGE_SIZE)  # fmt: skip
        shown = found[:PAGE_SIZE]
        counts = await store.counts(session, [e.id for e in shown])
        await audit.record(session, app.clock.now(), who.person.id, "events_view", None, via="web")
    rows = [{"event": e, "when": when(who, e, app), "count": counts[e.id]} for e in shown]
    more, query = len(found) > PAGE_SIZE, urlencode({"past": int(past)})
    return render.page(who.t, "events.html", viewer=who, rows=rows, past=past, number=number,
                       more=more, query=query)  # fmt: skip


def done_text(who: Viewer, request: Request) -> str | None:
    done = request.query_params.get("done", "")
    return who.t(f"console_events.done.{done}") if done in DONE else None


async def event_form_page(app: App, request: Request, who: Viewer) -> Response:
    """`/admin/events/new` and `/admin/events/{id}/edit`: the chat's form; a POST runs the
    chat's `create` or `update`."""
    event_id = request.path_params.get("event_id")
    sent = await form_of(request) if request.method == "POST" else None
    async with app.db.transaction() as session:
        ctx = chat_forms.context(app, session, who)
        event = None
        if event_id is not None:
            event = await store.get(session, int(event_id))
            if event is None or event.status != "scheduled":
                return render.message(who.t, 404, "console_events.not_found", who)
        form = events_hr.event_form(ctx, "events.update" if event else "events.create", event)
        problem = None
        if sent is not None:
            handler = events_hr.update if event else events_hr.create
            msg = chat_forms.incoming(who, str(event.id) if event else "", sent)
            replies, problem = await chat_forms.run(ctx, handler, msg, form)
            if problem is None and event is None:
                return RedirectResponse(f"/admin/events/{_opened(replies[0])}?done=created", 303)
            if problem is None and event is not None:
                same = replies[0].text == ctx.t("events.unchanged")
                done = "unchanged" if same else "updated"
                return RedirectResponse(f"/admin/events/{event.id}?done={done}", 303)
    return render.page(who.t, "events_form.html", 400 if problem else 200, viewer=who,
                       event=event, fields=fields(form, sent), problem=problem)  # fmt: skip


def _opened(reply: Reply) -> int:
    """The new event's id, from the chat's answer's "Open" button."""
    return int(reply.buttons[0][0].payload)


async def event_page(app: App, request: Request, who: Viewer) -> Response:
    """An event: its details, seats, going / maybe / waitlist counts and attendance; admins also
    see the people, a page at a time; from when check-in opens HR sees them too and marks who
    came, as the chat's `attendance` shows HR."""
    event_id = int(request.path_params["event_id"])
    number = render.page_number(request)
    async with app.db.transaction() as session:
        event = await store.get(session, event_id)
        if event is None:
            return render.message(who.t, 404, "console_events.not_found", who)
        count = (await store.counts(session, [event.id]))[event.id]
        can_mark = app.clock.now() >= event.starts_at - store.CHECKIN_OPENS
        names = who.is_admin or can_mark
        people = []
        if names:
            people = await store.with_people(session, event.id, offset=(number - 1) * PAGE_SIZE,
                                             limit=PAGE_SIZE + 1)  # fmt: skip
        await audit.record(
            session,
            app.clock.now(),
            who.person.id,
            "event_view",
            f"event:{event.id}",
            via="web",
            names=names,
        )
    zone = who.zone.key
    going = count.get(RsvpStatus.GOING, 0)
    return render.page(
        who.t, "events_event.html", viewer=who, event=event, when=when(who, event, app),
        local=chat.when(who.t, event, event.timezone) if zone != event.timezone else None,
        going=going,
        maybe=count.get(RsvpStatus.MAYBE, 0), waitlist=count.get(RsvpStatus.WAITLIST, 0),
        attended=count.get("attended", 0), capacity=event.capacity,
        left=None if event.capacity is None else max(event.capacity - going, 0),
        rsvps=people[:PAGE_SIZE], more=len(people) > PAGE_SIZE, number=number,
        can_mark=can_mark, names=names,
        done=done_text(who, request), problem=request.query_params.get("problem") == "1",
    )  # fmt: skip


async def _write(app: App, request: Request, who: Viewer, payload: str, handler: Any,
                 done: str) -> Response:  # fmt: skip
    event_id = int(request.path_params["event_id"])
    async with app.db.transaction() as session:
        ctx = chat_forms.context(app, session, who)
        _, problem = await chat_forms.run(ctx, handler, chat_forms.incoming(who, payload))
    if problem is not None:
        return render.page(who.t, "message.html", 400, viewer=who,
                           heading=who.t("console_events.title"), text=problem)  # fmt: skip
    return RedirectResponse(f"/admin/events/{event_id}?done={done}", 303)


async def cancel(app: App, request: Request, who: Viewer) -> Response:
    """The chat's confirmed cancel: everyone who answered is told."""
    event_id = int(request.path_params["event_id"])
    return await _write(app, request, who, f"{event_id}:yes", events_hr.cancel, "cancelled")


async def attend(app: App, request: Request, who: Viewer) -> Response:
    """Mark one person as there, as the chat's `attend` does (HR and admins, as in chat)."""
    event_id = int(request.path_params["event_id"])
    person = (await form_of(request)).get("person", "")
    return await _write(app, request, who, f"{event_id}:{person}", events_hr.attend, "attended")
