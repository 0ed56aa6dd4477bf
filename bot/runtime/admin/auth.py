"""Who is asking: the session cookie, the CSRF token derived from it, and the roles a page
needs. A session is a row (storage/console_web.py), so logging out or 8 hours idle ends it in
every `serve` process at once; the cookie holds only its random token."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.requests import Request

from bot.core.i18n import Translator, pick_locale
from bot.runtime.app import App
from storage import audit, console_web, people
from storage.models import Person, Role
from storage.people import roles_of

COOKIE = "alumni_console"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Viewer:
    person: Person
    roles: frozenset[Role]
    t: Translator
    csrf: str
    nav: tuple[tuple[str, str], ...] = ()  # (path, catalog key) of the header's links

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles


def csrf_token(session_token: str) -> str:
    """Bound to the session: a form of one session is refused in another."""
    return hmac.new(session_token.encode(), b"csrf", hashlib.sha256).hexdigest()


def translator_for(app: App, request: Request, person: Person | None = None) -> Translator:
    hint = request.headers.get("accept-language", "").split(",")[0]
    chosen = person.locale if person is not None else None
    return app.catalogs.translator(pick_locale(chosen, hint, app.settings.default_locale))


def cookie_options(app: App) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": app.settings.base_url().startswith("https://"),
        "path": "/admin",
    }


async def viewer(app: App, request: Request) -> Viewer | None:
    """The signed-in HR person or admin, or None (no cookie, session ended, role taken away)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    async with app.db.transaction() as session:
        person_id = await console_web.session_person(session, token, app.clock.now())
        person = None
        if person_id is not None:
            person = await people.person_with_roles(session, person_id)
        if person is None or not console_web.may_sign_in(person):
            return None
        roles = roles_of(person)
    return Viewer(person, roles, translator_for(app, request, person), csrf_token(token))


async def form_of(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (first value of each)."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def csrf_ok(request: Request, form: dict[str, str]) -> bool:
    token = request.cookies.get(COOKIE, "")
    sent = form.get(CSRF_FIELD, "")
    return bool(token and sent) and hmac.compare_digest(sent, csrf_token(token))


async def refuse(app: App, who: Viewer, path: str) -> None:
    """A page above their role: audited as the chat's refusals are."""
    async with app.db.transaction() as session:
        audit.record(session, app.clock.now(), who.person.id, "refused", f"web:{path}",
                     allowed=False)  # fmt: skip
