"""The pages behind a mail's unsubscribe link. GET asks (a link checker opening it must not
unsubscribe anyone); POST unsubscribes at once, which is what a mail program's one-click
button sends (RFC 8058: `List-Unsubscribe=One-Click`, no confirmation)."""

from __future__ import annotations

from html import escape

from bot.core.i18n import Translator
from bot.runtime.app import App
from storage import mail
from storage.models import Person

PAGE = (
    '<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>'
    '<body style="font-family: sans-serif; max-width: 36em; margin: 2em auto;">'
    "<h1>{title}</h1><p>{text}</p>{form}</body></html>"
)


class UnsubscribePage:
    def __init__(self, app: App) -> None:
        self.app = app

    async def _translator(self, person_id: int | None) -> Translator:
        locale = None
        if person_id is not None:
            async with self.app.db.sessions() as session:
                person = await session.get(Person, person_id)
                locale = person.locale if person else None
        return self.app.catalogs.for_person(locale, self.app.settings.default_locale)

    def _page(self, t: Translator, text: str, form: str = "") -> str:
        title = escape(t("mail.unsubscribe.title"))
        return PAGE.format(lang=t.locale, title=title, text=escape(text), form=form)

    async def ask(self, token: str, action: str) -> tuple[str, int]:
        async with self.app.db.sessions() as session:
            contact = await mail.by_token(session, token)
        t = await self._translator(contact.person_id if contact else None)
        if contact is None:
            return self._page(t, t("mail.unsubscribe.unknown")), 404
        if contact.unsubscribed_at is not None:
            return self._page(t, t("mail.unsubscribe.already")), 200
        form = (
            f'<form method="post" action="{escape(action)}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            f'<button type="submit">{escape(t("mail.unsubscribe.button"))}</button></form>'
        )
        return self._page(t, t("mail.unsubscribe.question"), form), 200

    async def confirm(self, token: str) -> tuple[str, int]:
        now = self.app.clock.now()
        async with self.app.db.transaction() as session:
            contact = await mail.by_token(session, token)
            person_id = contact.person_id if contact else None
            done = await mail.unsubscribe(session, token, now, via="link")
        t = await self._translator(person_id)
        if done is None:
            return self._page(t, t("mail.unsubscribe.unknown")), 404
        return self._page(t, t("mail.unsubscribe.done")), 200
