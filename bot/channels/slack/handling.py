"""Slack: the work done from the inbox, after the acknowledgement — a slash command, a button, a
DM, App Home, a workspace that removed the app, an answer to deliver — and the boundary that
logs a failure and apologises. Mixed into `SlackChannel` (channel.py), which records these."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from bot.channels.slack import render
from bot.channels.slack.answer import Answers
from bot.channels.slack.api import SlackApi
from bot.channels.slack.install import Installations
from bot.channels.slack.payload import Origin, Who, team_of
from bot.core import forms
from bot.core.types import Incoming, Reply
from bot.dispatch.text import clean_text, split_command
from bot.runtime.app import App
from storage import identities

log = logging.getLogger(__name__)

HOME_ACTION = "home.open"
FORM_ACTIONS = frozenset({forms.FORM_CHOOSE, forms.FORM_SKIP, forms.FORM_CANCEL})

Work = Coroutine[Any, Any, None]


class Handling:
    """What a recorded Slack request becomes; the channel provides these."""

    name: str
    app: App
    api: SlackApi
    answers: Answers
    installations: Installations

    async def handle(self, item: dict[str, Any]) -> None:
        """One recorded request, from the inbox."""
        kind, body = str(item["kind"]), item["body"]
        who: Who | None = (item["who"][0], item["who"][1], item["who"][2]) if item["who"] else None
        team = team_of(body)
        work: Work
        if kind == "command":
            work = self._command(body)
        elif kind == "action":
            work = self._action(body)
        elif kind == "home":
            work = self._publish_home(team, str(body["event"]["user"]))
        elif kind == "message":
            work = self._message(body, body["event"])
        elif kind == "gone":
            work = self._workspace_gone(team, str(item["reason"]))
        elif kind == "answer" and who is not None:
            replies = [Reply.from_dict(r) for r in item["replies"]]
            work = self._answer_in_dm(who, replies)
        else:
            log.error("slack: an inbox item of unknown kind %r", kind)
            return
        await self._guard(work, kind, who)

    async def _answer_in_dm(self, who: Who, replies: list[Reply]) -> None:
        await self.answers.in_dm(await self.api.actor(who[0], who[1]), replies)

    async def _workspace_gone(self, team: str, reason: str) -> None:
        """The app was removed from a workspace: forget its token, and nobody there can be
        written to any more (their other identities take over)."""
        await self.installations.uninstall(team)
        self.api.forget(team)
        marked = await identities.mark_workspace_unreachable(
            self.app.db, self.name, team, reason[:200]
        )
        log.warning("slack: workspace %s gone (%s): %d unreachable", team, reason, marked)

    # -- the work -----------------------------------------------------------------------------

    async def _command(self, body: dict[str, Any]) -> None:
        actor = await self.api.actor(team_of(body), str(body["user_id"]))
        dm = await self.api.dm(actor.workspace, actor.user_id)
        channel = str(body.get("channel_id") or dm)
        origin = Origin(
            actor, channel, channel == dm, body.get("response_url"), body.get("trigger_id")
        )
        text = clean_text(str(body.get("text", ""))) or "help"
        name, args = split_command(text)  # always a command: never taken as a form's answer
        incoming = Incoming(
            actor, channel, text=text, command=name, args=args, private=channel == dm
        )
        await self.answers.answer(
            origin, await self.app.dispatcher.dispatch(incoming, step_forms=False)
        )

    async def _action(self, body: dict[str, Any]) -> None:
        actor = await self.api.actor(team_of(body), str(body["user"]["id"]))
        dm = await self.api.dm(actor.workspace, actor.user_id)
        pressed = body["actions"][0]
        container = body.get("container") or {}
        in_message = container.get("type") == "message"
        channel = str((body.get("channel") or {}).get("id") or dm) if in_message else dm
        url = body.get("response_url") if in_message else None
        origin = Origin(actor, channel, channel == dm, url, body.get("trigger_id"))
        value = str(pressed.get("value", ""))
        action = render.parse_action_id(str(pressed.get("action_id", "")))
        payload = "" if value == "-" else value
        # Only the presser saw a button in their DM, an ephemeral answer, a modal or App Home;
        # a message in a channel is seen by everyone there, and Slack does not say for whom.
        own = channel == dm or bool(container.get("is_ephemeral")) or not in_message
        incoming = Incoming(
            actor,
            channel,
            action=action,
            payload=payload,
            private=channel == dm,
            shown_to=actor.user_id if own else None,
        )
        # Step-form buttons only exist when a form is being asked in the DM (see _message).
        replies = await self.app.dispatcher.dispatch(incoming, step_forms=action in FORM_ACTIONS)
        await self.answers.answer(origin, replies)
        message = body.get("message")
        if in_message and isinstance(message, dict) and not container.get("is_ephemeral"):
            await self._mark_pressed(
                actor.workspace, channel, message, str(pressed.get("action_id"))
            )
        if container.get("type") == "view" and (body.get("view") or {}).get("type") == "home":
            await self._publish_home(actor.workspace, actor.user_id)

    async def _mark_pressed(
        self, team: str, channel: str, message: dict[str, Any], pressed: str
    ) -> None:
        """Show which button was pressed on the message (cosmetic: a failure is only logged)."""
        blocks = render.mark_pressed(message.get("blocks") or [], pressed)
        if not blocks:
            return
        try:
            client = await self.api.client_for(team)
            await client.chat_update(
                channel=channel,
                ts=str(message.get("ts")),
                blocks=blocks,
                text=str(message.get("text") or render.fallback(blocks)),
            )
        except Exception as exc:
            log.warning("slack: could not mark the pressed button in %s: %s", channel, exc)

    async def _message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        actor = await self.api.actor(team_of(body), str(event["user"]))
        channel = str(event["channel"])
        self.api.remember_dm(actor.workspace, actor.user_id, channel)
        incoming = Incoming(actor, channel, text=str(event.get("text", "")))
        # No trigger id in a message, so a form becomes questions in the DM (as on Telegram).
        replies = await self.app.dispatcher.dispatch(incoming, step_forms=True)
        await self.answers.answer(Origin(actor, channel, True), replies)

    async def _publish_home(self, team: str, user: str) -> None:
        actor = await self.api.actor(team, user)
        incoming = Incoming(actor, "", action=HOME_ACTION, private=True)
        replies = await self.app.dispatcher.dispatch(incoming, step_forms=False)
        shown = [replace(r, form=None) for r in replies if r.text or r.buttons]
        client = await self.api.client_for(team)
        await client.views_publish(user_id=user, view=render.home_view(shown))

    # -- the boundary -------------------------------------------------------------------------

    async def _guard(self, work: Work, what: str, who: Who | None) -> None:
        """The boundary for work after an ack (the router has its own; this one catches Slack
        API failures): logged with context, and the person gets an apology if we can."""
        try:
            await work
        except Exception:
            log.exception("slack: %s failed (team, user: %s)", what, who and who[:2])
            if who is None:
                return
            team, user, response_url = who
            try:
                actor = await self.api.actor(team, user)
                apology = Reply(await self.answers.text(actor, "error.internal"))
                if response_url:
                    await self.api.respond(response_url, apology)
                else:
                    await self.api.post(await self.api.dm(team, user), apology, team=team)
            except Exception:
                log.exception("slack: could not apologise to %s", user)
