"""The explicit route table and the one dispatch every channel calls.

`Dispatcher.dispatch` is the error boundary (docs/style.md): a `UserFacingError` becomes its
localised message and the handler's changes are rolled back; anything else is logged with its
context and the person gets an apology, never exception text."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rapidfuzz import fuzz, process
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import forms
from bot.core.clock import Clock
from bot.core.i18n import Catalogs, pick_locale
from bot.core.metrics import DISPATCH_SECONDS, DISPATCHES
from bot.core.settings import Settings
from bot.core.types import Actor, Form, FormError, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from bot.dispatch.text import clean_text, command_word, is_greeting, scrub, scrubbed, split_command
from storage import people
from storage.db import Database, writes
from storage.models import FormState, Identity, Person, Role

log = logging.getLogger(__name__)

CONSENT_PROMPT = "onboarding.consent_prompt"
RESUME_AFTER = timedelta(minutes=30)  # a form answered later than this is resumed, not stepped

HandlerResult = Reply | Sequence[Reply] | None
Handler = Callable[[Context, Incoming], Awaitable[HandlerResult]]


@dataclass(frozen=True)
class Route:
    handler: Handler
    command: str | None = None
    action: str | None = None
    roles: frozenset[Role] = frozenset()  # empty: anyone who joined
    public: bool = False  # reachable before joining (help, join)
    consent: bool = True  # needs the privacy consent first
    listed: bool = True  # shown by `help`
    guest: bool = False  # shown by `help` only to those who have not joined
    submit: bool = False  # a form's submit action: reached only by submitting that form
    aliases: tuple[str, ...] = ()  # other names of the command (Japanese), not listed by help
    # False: the handler refuses (UserFacingError) only before it writes, so it needs no
    # savepoint to roll back to: two round trips fewer a message, for a button pressed by a
    # crowd at once (RSVPs). Checked when it refuses: see `Dispatcher._unsaved`.
    savepoint: bool = True

    def allows(self, roles: frozenset[Role]) -> bool:
        return not self.roles or bool(self.roles & roles)


class Router:
    """Looks routes up by command or by button/form action; refuses duplicates at start-up."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)
        self.commands: dict[str, Route] = {}
        self.actions: dict[str, Route] = {}
        for route in self.routes:
            names = [(route.command, self.commands), (route.action, self.actions)]
            names += [(alias, self.commands) for alias in route.aliases]
            for name, table in names:
                if name is None:
                    continue
                if name in table:
                    raise ValueError(f"two routes for {name!r}")
                table[name] = route

    def visible(self, joined: bool, roles: frozenset[Role]) -> tuple[str, ...]:
        return tuple(
            r.command
            for r in self.routes
            if r.command
            and r.listed
            and not (joined and r.guest)
            and (r.public or (joined and r.allows(roles)))
        )

    def suggest(self, word: str, joined: bool, roles: frozenset[Role]) -> str | None:
        names = self.visible(joined, roles)
        if not word or len(word) > 30:
            return None
        best = process.extractOne(word.lower(), names, scorer=fuzz.WRatio, score_cutoff=60)
        return best[0] if best else None


def _pressed_by_its_owner(msg: Incoming) -> bool:
    """The button was shown to whoever pressed it; unknown is only good in a private chat."""
    if msg.shown_to is not None:
        return msg.shown_to == msg.actor.user_id
    return msg.private


def as_list(result: HandlerResult) -> list[Reply]:
    if result is None:
        return []
    return [result] if isinstance(result, Reply) else list(result)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        catalogs: Catalogs,
        router: Router,
        clock: Clock,
    ) -> None:
        self.db = db
        self.settings = settings
        self.catalogs = catalogs
        self.router = router
        self.clock = clock
        # Told who is writing (their roles and language) at each dispatch: a channel keeps
        # per-person state of its own (Telegram's command menus) without asking the database.
        self.observers: list[Callable[[Actor, frozenset[Role], str], None]] = []

    async def dispatch(self, incoming: Incoming, *, step_forms: bool = True) -> list[Reply]:
        """Handle one incoming message in one transaction; always returns what to answer."""
        incoming = scrubbed(incoming)
        channel = incoming.actor.channel
        try:
            with DISPATCH_SECONDS.labels(channel).time():
                async with self.db.sessions() as session, session.begin():
                    replies = await self._handle(session, incoming, step_forms)
            DISPATCHES.labels(channel, "ok").inc()
            return replies
        except Exception:
            DISPATCHES.labels(channel, "error").inc()
            log.exception(
                "dispatch failed: channel=%s user=%s command=%s action=%s",
                incoming.actor.channel,
                incoming.actor.user_id,
                incoming.command,
                incoming.action,
            )
            return [self._apology(incoming.actor)]

    def _apology(self, actor: Actor) -> Reply:
        """Something failed before we knew who is writing: their platform's language decides."""
        locale = pick_locale(None, actor.locale_hint, self.settings.default_locale)
        return Reply(self.catalogs.text(locale, "error.internal"))

    async def _caller(
        self, session: AsyncSession, actor: Actor, now: datetime
    ) -> tuple[Identity, Person | None, frozenset[Role], str]:
        """Who is writing: their identity, their person (none once forgotten), roles, language."""
        identity = await people.identity_for(session, actor, now)
        person = identity.person
        if person is not None and person.is_forgotten:
            person = None
        roles = people.roles_of(person) if person else frozenset()
        locale = pick_locale(
            person.locale if person else None, identity.locale_hint, self.settings.default_locale
        )
        return identity, person, roles, locale

    async def _handle(self, session: AsyncSession, msg: Incoming, step_forms: bool) -> list[Reply]:
        identity, person, roles, locale = await self._caller(session, msg.actor, self.clock.now())
        if msg.private and not identity.reachable:
            # They wrote to us here, privately: whatever stopped delivery (a blocked bot, an
            # app removed from the workspace) is over, and proactive messages may come here again.
            identity.reachable, identity.unreachable_reason = True, None
        for observe in self.observers:
            observe(msg.actor, roles, locale)
        ctx = self._context(session, identity, person, roles, locale)
        if msg.action is not None and not _pressed_by_its_owner(msg):
            # In a group, a button acts only for the person it was shown to.
            await ctx.audit(
                "refused",
                msg.action,
                allowed=False,
                reason="not_shown_to",
                chat=msg.conversation_id,
            )
            return [Reply(ctx.t("error.not_your_button"))]
        text = clean_text(msg.text)
        if len(text) > self.settings.limits.max_message_chars:
            return [Reply(ctx.t("error.too_long", max=self.settings.limits.max_message_chars))]
        msg = replace(msg, text=text)

        # A form in progress takes plain answers, its own buttons and cancel. A command (a
        # /command, or a command's name alone: "help", "stats") runs, and the form waits with a
        # note saying so: it never becomes a job title or a candidate's name.
        waiting = identity.form_state  # read with the identity
        if msg.action in (forms.FORM_CHOOSE, forms.FORM_SKIP, forms.FORM_CANCEL) or (
            msg.action is None
            and msg.command is None
            and (not self._is_command(text) or text.lower() in forms.CANCEL_WORDS)
        ):
            if waiting is not None:
                return await self._form_step(ctx, waiting, msg, step_forms)
            if msg.action is not None:
                return [Reply(ctx.t("error.expired_button"))]
        paused = (waiting.form, waiting.updated_at) if waiting is not None else None
        replies = await self._dispatch_plain(ctx, msg, text, step_forms)
        if paused is not None and msg.action is None:
            after = await session.get(FormState, identity.id)
            if after is not None and (after.form, after.updated_at) == paused:
                replies.append(Reply(ctx.t("form.paused", cancel=ctx.command("cancel"))))
        return replies

    def _is_command(self, text: str) -> bool:
        """A /command, or a command's name alone (a line of several words is an answer)."""
        if unicodedata.normalize("NFKC", text).startswith("/"):
            return True
        word = text.strip()
        return " " not in word and command_word(word) in self.router.commands

    async def _dispatch_plain(
        self, ctx: Context, msg: Incoming, text: str, step_forms: bool
    ) -> list[Reply]:
        person, roles = ctx.person, ctx.roles

        if msg.action is not None:
            route = self.router.actions.get(msg.action)
            if route is None or route.submit:  # a submit pressed as a button carries no form
                return [Reply(ctx.t("error.expired_button"))]
            return await self._run(ctx, route, msg, step_forms)

        name, args = (msg.command, msg.args) if msg.command else split_command(text)
        if not name:
            return [Reply(ctx.t("error.empty"))]
        if name in ("cancel", "キャンセル"):
            return [Reply(ctx.t("form.nothing_to_cancel"))]
        route = self.router.commands.get(name)
        if route is None and msg.command is None and is_greeting(text):
            route, args = self.router.commands.get("help"), ()  # a hello gets a greeting
        if route is None:
            suggestion = self.router.suggest(name, person is not None, roles)
            if suggestion:
                text = ctx.t("error.unknown_command_suggest", command=ctx.command(suggestion))
                return [Reply(text)]
            return [Reply(ctx.t("error.unknown_command"))]
        return await self._run(ctx, route, replace(msg, command=name, args=args), step_forms)

    def _context(
        self,
        session: AsyncSession,
        identity: Identity,
        person: Person | None,
        roles: frozenset[Role],
        locale: str,
    ) -> Context:
        commands = self.router.visible(person is not None, roles)
        return Context(
            session,
            self.settings,
            self.clock,
            self.catalogs,
            identity,
            person,
            roles,
            locale,
            commands,
        )

    async def _run(
        self, ctx: Context, route: Route, msg: Incoming, step_forms: bool
    ) -> list[Reply]:
        """Check access, run the handler in a savepoint, start any form it returns.

        A UserFacingError rolls the handler's changes back and becomes its message; a FormError
        also rolls back and escapes, for the form machinery to show."""
        what = route.command or route.action or "?"
        if ctx.person is None and not route.public:
            return [Reply(ctx.t("error.not_joined"))]
        if ctx.person is not None and not route.allows(ctx.roles):
            await ctx.audit("refused", what, allowed=False, roles=sorted(ctx.roles))
            admin_only = Role.HR not in route.roles
            return [Reply(ctx.t("error.forbidden_admin" if admin_only else "error.forbidden"))]
        if ctx.person is not None and route.consent and ctx.person.consent_at is None:
            consent = self.router.actions.get(CONSENT_PROMPT)
            if consent is not None:
                return as_list(await consent.handler(ctx, msg))
        try:
            if route.savepoint:
                async with ctx.session.begin_nested():
                    replies = as_list(await route.handler(ctx, msg))
            else:
                replies = as_list(await self._unsaved(ctx, route, msg))
        except UserFacingError as exc:
            return [Reply(ctx.t(exc.key, **exc.params))]
        if any(r.then for r in replies):
            replies = await self._then(ctx, msg, replies, step_forms)
        return await self._start_forms(ctx, replies) if step_forms else replies

    async def _unsaved(self, ctx: Context, route: Route, msg: Incoming) -> HandlerResult:
        """Run a handler that needs no savepoint. Should it refuse after writing after all,
        its changes cannot be rolled back alone: the whole message is, with an apology and the
        mistake in the log, rather than keeping half of what it did."""
        session = ctx.session
        if session.new or session.dirty or session.deleted:
            await session.flush()  # what came before the handler is not the handler's
        before = writes(session)
        try:
            return await route.handler(ctx, msg)
        except (UserFacingError, FormError) as exc:
            if writes(session) != before or session.new or session.dirty or session.deleted:
                what = route.command or route.action
                raise RuntimeError(f"{what} refused after writing, without a savepoint") from exc
            raise

    async def _then(
        self, ctx: Context, msg: Incoming, replies: list[Reply], step_forms: bool
    ) -> list[Reply]:
        """Run the commands replies carry (`Reply.then`), as the person is now: onboarding has
        just given them consent, a language and their roles' commands."""
        out: list[Reply] = []
        for reply in replies:
            out.append(replace(reply, then=""))
            if not reply.then or ctx.person is None:
                continue
            person = ctx.person
            now = self._context(
                ctx.session, ctx.identity, person, people.roles_of(person),
                person.locale or ctx.locale,
            )  # fmt: skip
            typed = replace(msg, text=reply.then, command=None, args=(), action=None, payload="")
            out += await self._dispatch_plain(now, typed, reply.then, step_forms)
        return out

    async def _start_forms(self, ctx: Context, replies: list[Reply]) -> list[Reply]:
        out: list[Reply] = []
        for reply in replies:
            if reply.form is None:
                out.append(reply)
                continue
            if reply.text:
                out.append(replace(reply, form=None))
            await self._save_form(ctx, reply.form, {}, 0)
            out.append(forms.question(reply.form, 0, ctx.t))
        return out

    async def _save_form(self, ctx: Context, form: Form, values: dict[str, str], step: int) -> None:
        state = await ctx.session.get(FormState, ctx.identity.id)
        if state is None:
            state = FormState(identity_id=ctx.identity.id, form={}, values={})
            ctx.session.add(state)
        state.form, state.values, state.step, state.updated_at = (
            form.to_dict(),
            dict(values),
            step,
            ctx.now,
        )

    async def _form_step(
        self, ctx: Context, state: FormState, msg: Incoming, step_forms: bool
    ) -> list[Reply]:
        form = Form.from_dict(state.form)
        step = min(state.step, len(form.fields) - 1)
        field = form.fields[step]
        if msg.action == forms.FORM_CANCEL or msg.text.lower() in forms.CANCEL_WORDS:
            await ctx.session.delete(state)
            return [Reply(ctx.t("form.cancelled"))]
        if msg.action is None and ctx.now - state.updated_at > RESUME_AFTER:
            # Hours later, a line is more likely a new thought than the answer: say which form
            # is open, ask its question again, and take the next line as the answer.
            state.updated_at = ctx.now
            note = ctx.t("form.resumed", cancel=ctx.command("cancel"))
            return [Reply(note), forms.question(form, step, ctx.t)]
        values = dict(state.values)
        raw = msg.payload if msg.action == forms.FORM_CHOOSE else msg.text
        keeps = not field.required or bool(field.initial)  # "-" keeps the current value
        if msg.action == forms.FORM_SKIP or (raw.lower() in forms.SKIP_WORDS and keeps):
            raw = field.initial  # and parsed like an answer: "today" becomes a date
        try:
            values[field.name] = forms.parse_field(field, raw, ctx.today, ctx.zone)
        except forms.FieldError as exc:
            return [forms.question(form, step, ctx.t, ctx.t(exc.key, **exc.params))]
        if step + 1 < len(form.fields):
            await self._save_form(ctx, form, values, step + 1)
            return [forms.question(form, step + 1, ctx.t)]
        await ctx.session.delete(state)
        await ctx.session.flush()
        return await self.submit_form(ctx, form, values, step_forms)

    async def submit_form(
        self, ctx: Context, form: Form, values: dict[str, str], step_forms: bool
    ) -> list[Reply]:
        route = self.router.actions.get(form.submit_action)
        if route is None:
            return [Reply(ctx.t("error.expired_button"))]
        msg = Incoming(
            actor=_actor_of(ctx),
            conversation_id="",
            action=form.submit_action,
            payload=form.payload,
            values=values,
        )
        try:
            return await self._run(ctx, route, msg, step_forms)
        except FormError as exc:
            if not step_forms:
                raise
            names = [f.name for f in form.fields]
            bad = min(names.index(n) for n in exc.errors if n in names)
            await self._save_form(ctx, form, values, bad)
            error = ctx.t(exc.errors[names[bad]], **exc.params)
            return [forms.question(form, bad, ctx.t, error)]

    async def submit_values(
        self, incoming: Incoming, form: Form, values: dict[str, str]
    ) -> list[Reply] | dict[str, str]:
        """A modal's submission (Slack): the replies, or {field: message} to show in the modal."""
        incoming = scrubbed(incoming)
        values = {scrub(k): scrub(v) for k, v in values.items()}
        try:
            async with self.db.sessions() as session, session.begin():
                caller = await self._caller(session, incoming.actor, self.clock.now())
                ctx = self._context(session, *caller)
                errors = _field_errors(ctx, form, values)
                if errors:
                    return errors
                try:
                    return await self.submit_form(ctx, form, values, step_forms=False)
                except FormError as exc:
                    return {k: ctx.t(v, **exc.params) for k, v in exc.errors.items()}
        except Exception:
            log.exception("form submission failed: %s", form.submit_action)
            return [self._apology(incoming.actor)]


def _field_errors(ctx: Context, form: Form, values: dict[str, str]) -> dict[str, str]:
    parsed, problems = forms.parse_answers(form, values, ctx.today, ctx.zone)
    values.update(parsed)
    return {name: ctx.t(exc.key, **exc.params) for name, exc in problems.items()}


def _actor_of(ctx: Context) -> Actor:
    return Actor(ctx.identity.channel, ctx.identity.user_id, ctx.identity.workspace)
