"""The web admin console under `/admin` (issue 20), served by `serve`.

One explicit route table: each page names the roles it needs, and one guard in front of every
page checks the session, the role (a refusal is audited) and, on a POST, the CSRF token (403
without it), and is the pages' error boundary. Sign-in is by a one-time link only
(storage/console_web.py; signin.py: its GET shows a button, only the POST spends it)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.runtime.admin import (
    auth,
    broadcasts,
    events,
    imports,
    invitations,
    openings,
    pages,
    perks,
    reach,
    referrals,
    render,
    signin,
)
from bot.runtime.app import App
from storage.models import Role

log = logging.getLogger(__name__)

Page = Callable[[App, Request, auth.Viewer], Awaitable[Response]]
HR = frozenset({Role.HR, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class AdminPage:
    path: str
    page: Page
    roles: frozenset[Role]
    methods: tuple[str, ...] = ("GET",)
    nav: str | None = None  # the catalog key of its link in the header, shown to its roles


PAGES: list[AdminPage] = [
    AdminPage("/admin", pages.dashboard, HR, nav="console_web.nav.dashboard"),
    AdminPage("/admin/interactions", pages.interactions, HR, nav="console_web.nav.interactions"),
    AdminPage("/admin/interactions.csv", pages.interactions_csv, ADMIN),
    AdminPage("/admin/outcomes", pages.outcomes, HR, nav="console_web.nav.outcomes"),
    AdminPage("/admin/chart/{section}.png", pages.chart, HR),
    AdminPage("/admin/people", pages.people_page, ADMIN, nav="console_web.nav.people"),
    AdminPage("/admin/audit", pages.audit_log, ADMIN, nav="console_web.nav.audit"),
    AdminPage("/admin/openings", openings.openings_list, HR, nav="console_openings.nav.openings"),
    AdminPage("/admin/openings/new", openings.new_opening, HR, ("GET", "POST")),
    AdminPage("/admin/openings/{number:int}", openings.opening_page, HR),
    AdminPage("/admin/openings/{number:int}/edit", openings.edit_opening, HR, ("GET", "POST")),
    AdminPage("/admin/openings/{number:int}/close", openings.close_opening, HR, ("POST",)),
    AdminPage("/admin/referrals", referrals.pipeline, HR, nav="console_openings.nav.referrals"),
    AdminPage("/admin/referrals/{number:int}/move", referrals.move, HR, ("POST",)),
    AdminPage("/admin/broadcasts", broadcasts.index, HR, ("GET", "POST"), "console_broadcasts.nav"),
    AdminPage("/admin/broadcasts/{number:int}", broadcasts.detail, HR),
    AdminPage("/admin/broadcasts/{number:int}/confirm", broadcasts.confirm, HR, ("POST",)),
    AdminPage("/admin/broadcasts/{number:int}/cancel", broadcasts.cancel, HR, ("POST",)),
    AdminPage("/admin/reach", reach.reach, HR, nav="console_broadcasts.nav_reach"),
    AdminPage(
        "/admin/import",
        imports.import_page,
        ADMIN,
        ("GET", "POST"),
        nav="console_import.nav.import",
    ),
    AdminPage(
        "/admin/invitations", invitations.invitations_page, HR, nav="console_import.nav.invitations"
    ),
    AdminPage("/admin/events", events.events_list, HR, nav="console_events.nav"),
    AdminPage("/admin/events/new", events.event_form_page, HR, ("GET", "POST")),
    AdminPage("/admin/events/{event_id:int}", events.event_page, HR),
    AdminPage("/admin/events/{event_id:int}/edit", events.event_form_page, HR, ("GET", "POST")),
    AdminPage("/admin/events/{event_id:int}/cancel", events.cancel, HR, ("POST",)),
    AdminPage("/admin/events/{event_id:int}/attend", events.attend, HR, ("POST",)),
    AdminPage("/admin/perks", perks.perks_list, HR, nav="console_perks.nav"),
    AdminPage("/admin/perks/new", perks.perk_new, HR, ("GET", "POST")),
    AdminPage("/admin/perks/{perk_id:int}", perks.perk_claims, HR),
    AdminPage("/admin/logout", signin.logout, HR, ("POST",)),
]


def navigation(roles: frozenset[Role]) -> tuple[tuple[str, str], ...]:
    """The header's links: the pages these roles may open, in the table's order."""
    return tuple((e.path, e.nav) for e in PAGES if e.nav is not None and roles & e.roles)


def guard(app: App, entry: AdminPage) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        who = await auth.viewer(app, request)
        if who is None:
            t = auth.translator_for(app, request)
            return render.message(t, 401, "console_web.need_login")
        who = replace(who, nav=navigation(who.roles))
        try:
            form = await auth.form_of(request) if request.method == "POST" else {}
        except auth.TooLarge:
            return render.message(who.t, 413, "console_import.too_large", who)
        if request.method == "POST" and not auth.csrf_ok(request, form):
            return render.message(who.t, 403, "console_web.csrf", who)
        if not who.roles & entry.roles:
            await auth.refuse(app, who, entry.path)
            return render.message(who.t, 403, "console_web.forbidden", who)
        try:
            return await entry.page(app, request, who)
        except Exception:
            log.exception("admin page %s failed for person %s", entry.path, who.person.id)
            return render.message(who.t, 500, "console_web.error", who)

    return endpoint


def routes(app: App) -> list[BaseRoute]:
    async def login_page(request: Request) -> Response:
        return await signin.login_page(app, request)

    async def login(request: Request) -> Response:
        return await signin.login(app, request)

    async def stylesheet(request: Request) -> Response:
        return render.stylesheet()

    async def icon(request: Request) -> Response:
        return render.icon()

    async def font(request: Request) -> Response:
        return render.font()

    table: list[BaseRoute] = [
        Route("/admin/static/icon.svg", icon, methods=["GET"]),
        Route("/admin/static/ipaexg.ttf", font, methods=["GET"]),
        Route("/admin/login/{token}", login_page, methods=["GET"]),
        Route("/admin/login", login, methods=["POST"]),
        Route("/admin/static/admin.css", stylesheet, methods=["GET"]),
    ]
    for entry in PAGES:
        table.append(Route(entry.path, guard(app, entry), methods=list(entry.methods)))
    return table
