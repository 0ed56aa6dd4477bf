"""Who is asking: the session cookie, the CSRF token derived from it, and the roles a page
needs. A session is a row (storage/console_web.py), so logging out or 8 hours idle ends it in
every `serve` process at once; the cookie holds only its random token."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from bot.core.clock import zone_of
from bot.core.i18n import Translator, pick_locale
from bot.core.normalize import whole
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
    zone: ZoneInfo  # theirs, or the deployment's default
    nav: tuple[tuple[str, str], ...] = ()  # (path, catalog key) of the header's links

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def local(self, at: datetime | None) -> str:
        """A stored time as the viewer reads it: in their zone, to the minute."""
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M") if at is not None else ""


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
    zone = zone_of(person.timezone, app.settings.default_timezone)
    return Viewer(person, roles, translator_for(app, request, person), csrf_token(token), zone)


class TooLarge(Exception):
    """A request body over BODY_LIMIT: refused before it is all read."""


FILE_LIMIT = 5 * 1024 * 1024  # an uploaded file (the Import page's CSV)
BODY_LIMIT = FILE_LIMIT + 64 * 1024  # the file and the form around it


async def body_of(request: Request) -> bytes:
    """The request's body, read at most BODY_LIMIT bytes far (TooLarge past it), and kept for
    `request.body()` and `request.form()` after."""
    declared = whole(request.headers.get("content-length", ""))
    if declared is not None and declared > BODY_LIMIT:
        raise TooLarge()
    if not hasattr(request, "_body"):
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > BODY_LIMIT:
                raise TooLarge()
            chunks.append(chunk)
        request._body = b"".join(chunks)
    return await request.body()


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


async def form_of(request: Request) -> dict[str, str]:
    """A form's text fields (first value of each), urlencoded or multipart (its files are kept
    for `upload_of`); TooLarge for a body over BODY_LIMIT; a broken multipart body has none."""
    body = await body_of(request)
    if not is_multipart(request):
        text = body.decode("utf-8", "replace")
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    kept = getattr(request.state, "form", None)
    if kept is not None:
        return dict(kept)
    fields: dict[str, str] = {}
    uploads: dict[str, tuple[str, bytes]] = {}
    try:
        async with request.form(max_files=1, max_fields=20, max_part_size=64 * 1024) as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    uploads.setdefault(key, (value.filename or "", await value.read()))
                else:
                    fields.setdefault(key, value)
    except MultiPartException:
        fields, uploads = {}, {}
    request.state.form, request.state.uploads = fields, uploads
    return dict(fields)


async def upload_of(request: Request, field: str) -> tuple[str, bytes] | None:
    """A multipart form's file (its name and bytes)."""
    await form_of(request)
    found: dict[str, tuple[str, bytes]] = getattr(request.state, "uploads", {})
    return found.get(field)


def csrf_ok(request: Request, form: dict[str, str]) -> bool:
    token = request.cookies.get(COOKIE, "")
    sent = form.get(CSRF_FIELD, "")
    return bool(token and sent) and hmac.compare_digest(sent, csrf_token(token))


async def refuse(app: App, who: Viewer, path: str) -> None:
    """A page above their role: audited as the chat's refusals are."""
    async with app.db.transaction() as session:
        await audit.record(session, app.clock.now(), who.person.id, "refused", f"web:{path}",
                           allowed=False)  # fmt: skip
