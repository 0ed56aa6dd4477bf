"""`GET /admin/login/<token>` opens a session from a one-time link; `POST /admin/logout`
ends it. Both audited; a bad link gets a page saying why, and no cookie."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.runtime.admin import auth, render
from bot.runtime.app import App
from storage import audit, console_web, people

STATUS = {"unknown": 404, "used": 410, "expired": 410}


async def login(app: App, request: Request) -> Response:
    token = str(request.path_params["token"])
    now = app.clock.now()
    async with app.db.transaction() as session:
        redeemed = await console_web.redeem_link(session, token, now)
        person = None
        if redeemed.person_id is not None:
            person = await people.person_with_roles(session, redeemed.person_id)
        opened = None
        if redeemed.ok and person is not None and console_web.may_sign_in(person):
            opened = await console_web.open_session(session, person.id, now)
        audit.record(session, now, person.id if person else None, "admin_login", "web",
                     allowed=opened is not None, reason=redeemed.reason)  # fmt: skip
    t = auth.translator_for(app, request, person)
    if opened is None:
        key = "refused" if redeemed.reason == "ok" else redeemed.reason
        return render.message(t, STATUS.get(key, 403), f"console_web.login.{key}")
    response = RedirectResponse("/admin", 303)
    response.set_cookie(auth.COOKIE, opened, **auth.cookie_options(app))  # type: ignore[arg-type]
    return response


async def logout(app: App, request: Request, who: auth.Viewer) -> Response:
    async with app.db.transaction() as session:
        await console_web.close_session(session, request.cookies.get(auth.COOKIE, ""))
        audit.record(session, app.clock.now(), who.person.id, "admin_logout", "web")
    response = render.message(who.t, 200, "console_web.signed_out")
    options = auth.cookie_options(app)
    response.delete_cookie(auth.COOKIE, path=str(options["path"]), httponly=True,
                           samesite="lax", secure=bool(options["secure"]))  # fmt: skip
    return response
