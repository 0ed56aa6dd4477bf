"""Slack: the bot in a workspace, on slack-bolt's AsyncApp and slack_sdk's async client.

HTTP mode (`serve`): `POST /slack/events` takes events, the slash command and interactivity;
Bolt checks every signature. Socket Mode (`run`) when SLACK_APP_TOKEN is set. Every listener
records the request in the inbox (bot/runtime/inbox.py), acknowledges only after that commit, and
the work is done from there (Slack gives 3 s; a crash means it is done again, never lost); a modal
submission is the exception: its field errors must travel in the acknowledgement itself, so it is
handled at once and only its answer to the DM goes through the inbox.

No feature logic here: Slack input becomes `Incoming`, the router answers, and `slack_answer`
sends the answer where it belongs (personal replies never to a shared channel)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import warnings
from collections.abc import Sequence
from typing import Any

from slack_bolt.adapter.starlette.async_handler import (
    to_async_bolt_request,
    to_starlette_response,
)
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels.slack import render
from bot.channels.slack.answer import Answers
from bot.channels.slack.api import SlackApi, WorkspaceGone, signed
from bot.channels.slack.handling import Handling
from bot.channels.slack.install import Authorize, Installations
from bot.channels.slack.payload import Who, team_of, well_formed
from bot.core.batcher import Batcher
from bot.core.channel import Recipient
from bot.core.settings import SettingsError
from bot.core.types import Incoming, Reply
from bot.runtime.app import App
from storage import identities, inbound, inbox

log = logging.getLogger(__name__)

PATH = "/slack/events"
INSTALL_PATH, REDIRECT_PATH = "/slack/install", "/slack/oauth_redirect"
MAX_BODY = 1_000_000


class SlackChannel(Handling):
    name = "slack"

    def __init__(self, app: App) -> None:
        settings = app.settings
        oauth = bool(settings.slack_client_id and settings.slack_client_secret)
        if not settings.slack_bot_token and not oauth:
            raise SettingsError("SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and _SECRET) is not set")
        if not settings.slack_signing_secret and not settings.slack_app_token:
            raise SettingsError("Slack needs SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN")
        if oauth and not settings.slack_signing_secret:
            raise SettingsError("installing in several workspaces needs SLACK_SIGNING_SECRET")
        self.app = app
        self.secret = settings.slack_signing_secret
        self.installations = Installations(
            app.db if oauth else None, app.clock, settings.slack_client_id, settings.slack_bot_token
        )
        self.api = SlackApi(
            settings.slack_bot_token, settings.slack_api_url, self.installations,
            frozenset(settings.slack_trusted_teams),
        )  # fmt: skip
        self.answers = Answers(app, self.api)
        self.bolt: AsyncApp | None = None
        # The signatures of requests arriving together are kept in one transaction.
        self._signatures: Batcher[str, bool] = Batcher(self._first_times)

    # -- Channel protocol ---------------------------------------------------------------------

    async def start(self, *, webhooks: bool = False) -> None:
        await self.api.start()
        await identities.name_workspace(
            self.app.db, self.name, self.api.team_id, self.api.team, self.app.clock.now()
        )
        oauth = None
        if self.installations.multi:
            settings = self.app.settings
            oauth = AsyncOAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                scopes=settings.slack_scopes,
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
                installation_store=self.installations.store,
                state_store=self.installations.states,
            )
        bolt = AsyncApp(
            client=self.api.client,
            signing_secret=self.secret or "",
            request_verification_enabled=bool(self.secret),
            process_before_response=True,  # listeners record, then ack: the inbox does the work
            logger=logging.getLogger("slack_bolt"),
            # Every request is checked against the workspaces that installed us (or the one
            # SLACK_BOT_TOKEN is for): a workspace we are not in gets nothing processed.
            authorize=Authorize(self.installations),  # type: ignore[arg-type]  # Bolt takes it
            oauth_settings=oauth,
        )
        bolt.command(re.compile(r".+"))(self._on_command)
        bolt.view_submission(render.FORM_CALLBACK)(self._on_submission)
        bolt.action(re.compile(r".*"))(self._on_action)
        bolt.event("app_home_opened")(self._on_home)
        bolt.event("app_uninstalled")(self._on_uninstalled)
        bolt.event("tokens_revoked")(self._on_tokens_revoked)
        bolt.event({"type": "message", "subtype": None})(self._on_message)
        bolt.event(re.compile(r".*"))(self._on_other_event)
        self.bolt = bolt
        self.app.inbox.register(self.name, self.handle)
        log.info("slack: connected as %s to %s", self.api.bot_user_id, self.api.team or "OAuth")

    async def stop(self) -> None:
        await self.api.close()

    def web_routes(self) -> list[BaseRoute]:
        if not self.secret:
            raise SettingsError("SLACK_SIGNING_SECRET is required for `serve`")
        routes: list[BaseRoute] = [Route(PATH, self.endpoint, methods=["POST"])]
        if self.installations.multi:
            routes += [
                Route(INSTALL_PATH, self.oauth_endpoint, methods=["GET"]),
                Route(REDIRECT_PATH, self.oauth_endpoint, methods=["GET"]),
            ]
        return routes

    async def poll(self) -> None:
        """Socket Mode: Slack pushes over a WebSocket, no public URL needed (development)."""
        token = self.app.settings.slack_app_token
        if not token or self.bolt is None:
            log.warning("slack: SLACK_APP_TOKEN is not set; Slack events only reach `serve`")
            return
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(self.bolt, token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        try:
            await asyncio.Event().wait()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        """A proactive message to a person's DM; errors as DeliveryError subclasses. When the
        workspace's token is gone, everyone there is marked unreachable at once, so the rest of
        a broadcast falls back to their other identities instead of failing one by one."""
        try:
            return await self.api.send(to.workspace, to.user_id, to.chat_id, reply)
        except WorkspaceGone as exc:
            await self._workspace_gone(to.workspace, str(exc))
            raise

    async def idle(self) -> None:
        """Wait until what was recorded has been handled (tests, benchmarks)."""
        await self.app.inbox.idle()

    # -- HTTP ---------------------------------------------------------------------------------

    async def endpoint(self, request: Request) -> Response:
        if self.bolt is None:
            return PlainTextResponse("Slack is starting", 503)
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse("too large", 413)
        # Verified before anything is parsed: Bolt parses first, and malformed signature
        # headers or a deeply nested body made it fail with a 500.
        if not signed(self.secret or "", request.headers, body, time.time()):
            return PlainTextResponse("invalid signature", 401)
        # A signature is good for five minutes, so a captured request could be sent again:
        # each is acted on once, by every `serve` process (Slack re-signs its own retries).
        # What is recorded has its signature for inbox key (or the event's id), so the record
        # is the guard, in the same write; a modal submission, acted on before the ack, is
        # checked on its own first (`_on_submission`).
        try:
            bolt_request = to_async_bolt_request(request, body)
        except (
            UnicodeDecodeError,
            ValueError,
            AttributeError,
            TypeError,
            KeyError,
            RecursionError,
        ):
            return self._refuse(body)
        if not well_formed(bolt_request.body):
            return self._refuse(body)
        return to_starlette_response(await self.bolt.async_dispatch(bolt_request))

    async def _first_times(self, signatures: Sequence[str]) -> list[bool]:
        return await inbound.first_times(
            self.app.db, "slack-signature", signatures, self.app.clock.now()
        )

    async def oauth_endpoint(self, request: Request) -> Response:
        """`GET /slack/install` (a state and its cookie, then Slack's consent page) and
        `GET /slack/oauth_redirect` (state checked and used once, token stored)."""
        flow = self.bolt.oauth_flow if self.bolt is not None else None
        if flow is None:
            return PlainTextResponse("Slack is starting", 503)
        bolt_request = to_async_bolt_request(request, b"")
        if request.url.path == INSTALL_PATH:
            return to_starlette_response(await flow.handle_installation(bolt_request))
        with warnings.catch_warnings():
            # slack_sdk sends the client secret with aiohttp's BasicAuth, which aiohttp 3.12
            # deprecates: a library matter, not ours to fail a installation on.
            warnings.filterwarnings("ignore", "BasicAuth is deprecated", DeprecationWarning)
            response = await flow.handle_callback(bolt_request)
        log.info("slack: installation callback answered %s", response.status)
        return to_starlette_response(response)

    def _refuse(self, body: bytes) -> Response:
        """A signed request whose body is not one Slack sends."""
        log.warning("slack: a signed request with a malformed body (%d bytes)", len(body))
        return PlainTextResponse("malformed body", 400)

    # -- listeners: record, acknowledge; the work is done from the inbox --------------------

    async def _on_command(
        self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        if body.get("user_id"):
            who = (team_of(body), str(body["user_id"]), body.get("response_url"))
            await self._record("command", body, request, who)
        await ack()

    async def _on_action(
        self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        user = body.get("user") or {}
        if body.get("actions") and user.get("id"):
            await self._record("action", body, request, (team_of(body), str(user["id"]), None))
        await ack()

    async def _on_submission(
        self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        if not await self._signatures.submit(signature_of(request)):
            log.warning("slack: a replayed modal submission (signature seen before) was ignored")
            await ack()
            return
        try:
            await self._submission(ack, body, request)
        except Exception:
            log.exception("slack: modal submission failed: user=%s", body.get("user"))
            if ack.response is None:
                await ack()

    async def _on_home(
        self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        event = body.get("event") or {}
        if event.get("tab", "home") == "home" and event.get("user"):
            await self._record("home", body, request, (team_of(body), str(event["user"]), None))
        await ack()

    async def _on_message(
        self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        event = body.get("event") or {}
        if event.get("channel_type") == "im" and not event.get("bot_id") and event.get("user"):
            await self._record("message", body, request, (team_of(body), str(event["user"]), None))
        await ack()

    async def _on_uninstalled(
        self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        await self._record("gone", body, request, None, reason="app_uninstalled")
        await ack()

    async def _on_tokens_revoked(
        self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        tokens = (body.get("event") or {}).get("tokens") or {}
        if tokens.get("bot"):  # user tokens are not ours to care about: we only use the bot's
            await self._record("gone", body, request, None, reason="tokens_revoked")
        await ack()

    async def _record(
        self,
        kind: str,
        body: dict[str, Any],
        request: AsyncBoltRequest,
        who: Who | None,
        **extra: Any,
    ) -> None:
        """Into the inbox before the acknowledgement (if this raises, Slack gets a 500 and
        retries an event). An event id recorded before is Slack's retry, a signature recorded
        before a replay: dropped."""
        key = str(body.get("event_id") or "") or f"{kind}:{signature_of(request)}"
        team, user = (who[0], who[1]) if who else (team_of(body), "")
        item = {"kind": kind, "body": body, "who": list(who) if who else None, **extra}
        conversation = inbox.private_conversation(team, user)
        if not await self.app.inbox.record(self.name, key, conversation, item):
            log.info("slack: event %s already recorded", key)

    async def _on_other_event(self, ack: AsyncAck) -> None:
        await ack()  # acknowledged, so Slack does not retry what we do not use

    async def _submission(
        self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        view, user = body["view"], body["user"]
        try:
            form, conversation = render.form_from_metadata(view["private_metadata"])
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("slack: a modal we did not open, from %s", user.get("id"))
            await ack()
            return
        actor = await self.api.actor(team_of(body), str(user["id"]))
        values = render.submitted_values(form, (view.get("state") or {}).get("values") or {})
        incoming = Incoming(
            actor, conversation, action=form.submit_action, payload=form.payload, values=values
        )
        result = await self.app.dispatcher.submit_values(incoming, form, values)
        if isinstance(result, dict):
            names = [f.name for f in form.fields]
            errors = {k: v for k, v in result.items() if k in names}
            errors = errors or {names[0]: " ".join(result.values())}
            await ack(response_action="errors", errors=errors)
            return
        # Done (committed): the answer to the DM is recorded, so a crash cannot lose it.
        who = (actor.workspace, actor.user_id, None)
        await self._record("answer", body, request, who, replies=[r.to_dict() for r in result])
        await ack()  # closes the modal


def signature_of(request: AsyncBoltRequest) -> str:
    """The request's `X-Slack-Signature` (verified by `endpoint` before Bolt saw it)."""
    return next(iter(request.headers.get("x-slack-signature") or []), "")
