"""The chat's forms and handlers, run from the console: a page shows a handler's `Form` as an
HTML form, checks each field as the chat does (`bot.core.forms.parse_answers`), then calls the
same handler with the values, so validation, side effects (notices in the outbox) and audit
are the chat's own. Only what the web adds lives here: the caller's context and the friendly
sentence a problem becomes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import forms
from bot.core.types import Actor, Form, FormError, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from bot.runtime.admin.auth import Viewer
from bot.runtime.app import App
from storage.models import Identity

Handler = Callable[[Context, Incoming], Awaitable[Reply | list[Reply]]]


@dataclass
class WebContext(Context):
    """A handler's context for a console viewer: their person, roles and language; its audit
    rows say they came from the web."""

    async def audit(
        self, action: str, target: str | None = None, *, allowed: bool = True, **detail: Any
    ) -> None:
        await super().audit(action, target, allowed=allowed, via="web", **detail)


def context(app: App, session: AsyncSession, who: Viewer) -> WebContext:
    person = who.person
    identity = Identity(channel="web", workspace="", user_id=str(person.id), person_id=person.id)
    return WebContext(session, app.settings, app.clock, app.catalogs, identity, person,
                      who.roles, who.t.locale)  # fmt: skip


def incoming(who: Viewer, payload: str = "", values: dict[str, str] | None = None) -> Incoming:
    actor = Actor("web", str(who.person.id))
    return Incoming(actor, actor.user_id, payload=payload, values=dict(values or {}))


def checked(ctx: Context, form: Form, sent: dict[str, str]) -> dict[str, str]:
    """Each field as the chat checks it; FormError names the first bad one."""
    values, errors = forms.parse_answers(form, sent, ctx.today, ctx.zone)
    for name, exc in errors.items():
        raise FormError({name: exc.key}, **exc.params)
    return {f.name: values.get(f.name, "") for f in form.fields}


def problem_text(ctx: Context, form: Form | None, exc: FormError | UserFacingError) -> str:
    """The one friendly sentence: `Starts: that date and time was not understood…`."""
    if isinstance(exc, UserFacingError):
        return ctx.t(exc.key, **exc.params)
    name, key = next(iter(exc.errors.items()))
    labels = {f.name: f.label for f in form.fields} if form else {}
    text = ctx.t(key, **exc.params)
    return f"{labels[name]}: {text}" if name in labels else text


async def run(
    ctx: Context, handler: Handler, msg: Incoming, form: Form | None = None
) -> tuple[list[Reply], str | None]:
    """The handler in a savepoint, as the dispatcher runs it: on bad input, nothing it did is
    kept and its friendly sentence comes back instead of replies."""
    try:
        async with ctx.session.begin_nested():
            if form is not None:
                msg = Incoming(msg.actor, msg.conversation_id, payload=msg.payload,
                               values=checked(ctx, form, msg.values))  # fmt: skip
            result = await handler(ctx, msg)
    except (FormError, UserFacingError) as exc:
        return [], problem_text(ctx, form, exc)
    return ([result] if isinstance(result, Reply) else list(result)), None
