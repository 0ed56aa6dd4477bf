"""Reading what Slack sends: whose workspace a payload is from, whether it has the shape Bolt's
matchers rely on, and where an answer should go back to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.types import Actor

Who = tuple[str, str, str | None]  # team, user, response_url: whom to apologise to


@dataclass(frozen=True)
class Origin:
    """Where and how a person acted, so the answer goes back the same way."""

    actor: Actor
    channel: str  # the conversation they acted in; their DM for Home and modals
    in_dm: bool  # that conversation is their DM with the bot
    response_url: str | None = None
    trigger_id: str | None = None


def team_of(body: dict[str, Any]) -> str:
    user = body.get("user") or {}
    return str((body.get("team") or {}).get("id") or body.get("team_id") or user.get("team_id", ""))


def well_formed(body: dict[str, Any]) -> bool:
    """Enough shape for Bolt's matchers, which index payloads without looking: Slack always
    sends it; a hand-made request may not, and gets 400 instead of a 500."""
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event")
        return isinstance(event, dict) and isinstance(event.get("type"), str)
    if kind in ("block_actions", "view_submission", "view_closed", "block_suggestion"):
        user = body.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            return False
        if kind == "block_actions":
            actions = body.get("actions")
            return isinstance(actions, list) and all(isinstance(a, dict) for a in actions)
        view = body.get("view")
        return isinstance(view, dict) and all(
            isinstance(view.get(k), str) for k in ("type", "callback_id")
        )
    return True
