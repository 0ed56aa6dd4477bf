"""Slack: the router's replies drawn and sent where they belong.

A reply goes back where the person wrote (a DM, or the channel through the slash command's
response_url), except what is personal (`private_only`, files): that goes to their DM, and the
channel is told so. A form opens as a modal when Slack gave a trigger id, else its text is sent.
An answer whose send fails for a while (timeout, 5xx, 429) goes to the outbox, with the ones after
it, and the worker delivers them to the person's DM."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import timedelta

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.channels.slack import render
from bot.channels.slack.api import SlackApi, delivery_error
from bot.channels.slack.payload import Origin
from bot.core.channel import DeliveryError, RateLimited, TransientError
from bot.core.clock import local_date, zone_of
from bot.core.i18n import pick_locale
from bot.core.types import Actor, Reply
from bot.runtime.app import App
from storage import outbox
from storage.locales import chosen_locale

log = logging.getLogger(__name__)


class Answers:
    def __init__(self, app: App, api: SlackApi) -> None:
        self.app, self.api = app, api

    async def in_dm(self, actor: Actor, replies: list[Reply]) -> None:
        dm = await self.api.dm(actor.workspace, actor.user_id)
        await self.answer(Origin(actor, dm, True), replies)

    async def answer(self, origin: Origin, replies: list[Reply]) -> None:
        sent_privately = deferred = False
        for reply in replies:
            if reply.form is not None:
                if origin.trigger_id and not deferred:
                    await self._open_modal(origin, reply)
                    continue
                reply = replace(reply, form=None)
                if not reply.text:
                    continue
            if deferred:
                await self._later(origin, reply, None)
                continue
            try:
                sent_privately |= await self._send(origin, reply)
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                if isinstance(exc, SlackApiError):
                    error = delivery_error(exc)
                else:
                    error = TransientError(f"{type(exc).__name__}: {exc}")
                if not isinstance(error, RateLimited | TransientError):
                    raise
                deferred = True
                await self._later(origin, reply, error)
        if sent_privately and origin.response_url:
            note = await self.text(origin.actor, "error.private_sent")
            await self.api.respond(origin.response_url, Reply(note))

    async def _send(self, origin: Origin, reply: Reply) -> bool:
        """One reply where it belongs; True when it went to the DM instead of the channel."""
        team = origin.actor.workspace
        if not origin.in_dm and (reply.private_only or reply.attachment):
            await self.api.post(await self.api.dm(team, origin.actor.user_id), reply, team=team)
            return True
        if not origin.in_dm and origin.response_url:
            await self.api.respond(origin.response_url, reply)
        else:
            await self.api.post(origin.channel, reply, team=team)
        return False

    async def _later(self, origin: Origin, reply: Reply, error: DeliveryError | None) -> None:
        """For the worker's retries, to their DM (a response_url does not outlive a retry)."""
        now = self.app.clock.now()
        wait = error.retry_after if isinstance(error, RateLimited) else 0.0
        actor = origin.actor
        await outbox.enqueue_answer(
            self.app.db, channel="slack", workspace=actor.workspace, user_id=actor.user_id,
            chat_id=origin.channel if origin.in_dm else None, reply=reply,
            key=f"answer:slack:{uuid.uuid4().hex}", now=now,
            not_before=now + timedelta(seconds=wait),
        )  # fmt: skip
        log.warning("slack: an answer to %s deferred to the outbox (%s)", actor.user_id,
                    error or "in order")  # fmt: skip

    async def _open_modal(self, origin: Origin, reply: Reply) -> None:
        assert reply.form is not None
        t_submit, t_close = await self.texts(origin.actor, "slack.submit", "slack.close")
        try:
            zone = zone_of(None, self.app.settings.default_timezone)
            today = local_date(self.app.clock.now(), zone)
            view = render.modal(reply.form, t_submit, t_close, origin.channel, reply.text, today)
        except render.MetadataTooLong:
            log.error("slack: form %s does not fit a modal", reply.form.submit_action)
            await self.api.post(
                origin.channel,
                Reply(await self.text(origin.actor, "error.internal")),
                team=origin.actor.workspace,
            )
            return
        client = await self.api.client_for(origin.actor.workspace)
        await client.views_open(trigger_id=origin.trigger_id, view=view)

    async def texts(self, actor: Actor, *keys: str) -> list[str]:
        """The channel's own words, in the person's language."""
        async with self.app.db.sessions() as session:
            chosen = await chosen_locale(session, "slack", actor.workspace, actor.user_id)
        locale = pick_locale(chosen, actor.locale_hint, self.app.settings.default_locale)
        return [self.app.catalogs.text(locale, key) for key in keys]

    async def text(self, actor: Actor, key: str) -> str:
        return (await self.texts(actor, key))[0]
