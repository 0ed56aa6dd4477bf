"""The console's Reach page: who can be reached nowhere. HR sees the counts; admins also the
people no chat reaches, a page at a time, with why and whether mail still reaches them (the
chat's `reach`, handlers/bridge.py, over storage/identities.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bot.core.platforms import mail_configured
from bot.runtime.admin import render
from bot.runtime.admin.auth import Viewer
from bot.runtime.app import App
from handlers.bridge import why_unreachable
from storage import audit, identities, mail
from storage.models import MailContact, Person

PAGE_SIZE = 50


def _mail_standing(person: Person, contact: MailContact | None, mail_on: bool) -> str:
    """console_broadcasts.reach.mail.<this>: what mail can do for someone no chat reaches."""
    if not mail_on:
        return "off"
    if not person.private_email:
        return "none"
    if contact is not None and contact.unsubscribed_at is not None:
        return "unsubscribed"
    return "bounced" if not mail.mailable(contact) else "ok"


async def reach(app: App, request: Request, who: Viewer) -> Response:
    number = render.page_number(request)
    mail_on = mail_configured(app.settings)
    rows: list[dict[str, str]] = []
    async with app.db.transaction() as session:
        counts = await identities.reach(session)
        total = counts.no_chat
        if who.is_admin:
            total, found = await identities.reachable_nowhere(
                session, PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
            )
            contacts = await mail.contacts(session, [p.id for p in found])
            rows = [
                {"name": p.name, "email": p.email or "", "why": why_unreachable(who.t, p),
                 "mail": _mail_standing(p, contacts.get(p.id), mail_on)}
                for p in found
            ]  # fmt: skip
        await audit.record(session, app.clock.now(), who.person.id, "reach_view", None, via="web",
                           rows=who.is_admin)  # fmt: skip
    nowhere = counts.nowhere if mail_on else counts.no_chat
    return render.page(who.t, "reach.html", viewer=who, counts=counts, nowhere=nowhere,
                       mail_on=mail_on, rows=rows, number=number,
                       more=number * PAGE_SIZE < total)  # fmt: skip
