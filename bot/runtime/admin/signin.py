"""Sign-in by a one-time link, and `POST /admin/logout`.

`GET /admin/login/<token>` only looks at the link: a chat app's link preview fetches it before
the person clicks, so it shows a "Sign in" button, and only that button's `POST /admin/login`
(the token in the form, same-origin only: no session exists yet to carry a CSRF token) spends
the link and sets the cookie. Sign-ins and refusals are audited; a bad link gets a page saying
why, and no cookie."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.runtime.admin import auth, render
from bot.runtime.app import App
from storage import audit, console_web, people
from storage.models import Person

STATUS = {"unknown": 404, "used": 410, "expired": 410}
TOKEN_FIELD = "token"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(app: App, request: Request) -> bool:
    """A cross-site POST is refused. `Sec-Fetch-Site` decides when the browser sends it (the
    page's own form sends `same-origin`; its Origin is `null` under our no-referrer policy);
    else an `Origin`, when sent, must be this site or PUBLIC_URL."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = {_origin(str(request.base_url)), _origin(app.settings.base_url())}
    return origin.lower().rstrip("/") in ours


async def _refused(
    app: App, request: Request, found: console_web.Redeemed, person: Person | None
) -> Response:
    key = "refused" if found.reason == "ok" else found.reason
    t = auth.translator_for(app, request, person)
    return render.message(t, STATUS.get(key, 403), f"console_web.login.{key}")


async def login_page(app: App, request: Request) -> Response:
    """GET: what the link is, and a button to sign in with it; nothing is spent."""
    token = str(request.path_params["token"])
    now = app.clock.now()
    async with app.db.transaction() as session:
        found = await console_web.peek_link(session, token, now)
        person = None
        if found.person_id is not None:
            person = await people.person_with_roles(session, found.person_id)
        good = found.ok and console_web.may_sign_in(person)
        if found.ok and not good:  # a live link of someone without HR or admin: audited
            await audit.record(session, now, person.id if person else None, "admin_login", "web",
                               allowed=False, reason="refused")  # fmt: skip
    if not good:
        return await _refused(app, request, found, person)
    t = auth.translator_for(app, request, person)
    return render.page(t, "import_signin.html", viewer=None, token=token)


async def login(app: App, request: Request) -> Response:
    """POST: spend the link, open a session, set the cookie."""
    t = auth.translator_for(app, request)
    if not same_origin(app, request):
        return render.message(t, 403, "console_import.signin.cross_site")
    try:
        token = (await auth.form_of(request)).get(TOKEN_FIELD, "")
    except auth.TooLarge:
        return render.message(t, 413, "console_import.too_large")
    now = app.clock.now()
    async with app.db.transaction() as session:
        redeemed = await console_web.redeem_link(session, token, now)
        person = None
        if redeemed.person_id is not None:
            person = await people.person_with_roles(session, redeemed.person_id)
        opened = None
        if redeemed.ok and person is not None and console_web.may_sign_in(person):
            opened = await console_web.open_session(session, person.id, now)
        await audit.record(session, now, person.id if person else None, "admin_login", "web",
                           allowed=opened is not None, reason=redeemed.reason)  # fmt: skip
    if opened is None:
        return await _refused(app, request, redeemed, person)
    response = RedirectResponse("/admin", 303)
    response.set_cookie(auth.COOKIE, opened, **auth.cookie_options(app))  # type: ignore[arg-type]
    return response


async def logout(app: App, request: Request, who: auth.Viewer) -> Response:
    async with app.db.transaction() as session:
        await console_web.close_session(session, request.cookies.get(auth.COOKIE, ""))
        await audit.record(session, app.clock.now(), who.person.id, "admin_logout", "web")
    response = render.message(who.t, 200, "console_web.signed_out")
    options = auth.cookie_options(app)
    response.delete_cookie(auth.COOKIE, path=str(options["path"]), httponly=True,
                           samesite="lax", secure=bool(options["secure"]))  # fmt: skip
    return response
