"""What every platform channel provides, and how delivery failures are told apart.

A channel turns platform input into `Incoming` (and calls `Dispatcher.dispatch`), renders `Reply`
for its platform, and sends proactive messages for the outbox through `send`. Channels contain
no feature logic; handlers never import a channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from starlette.routing import BaseRoute

from bot.core.types import Reply


@dataclass(frozen=True)
class Recipient:
    """Where a proactive message goes: one chat identity."""

    channel: str
    workspace: str
    user_id: str
    chat_id: str | None = None  # a known DM channel / private chat id
    unsubscribe_url: str | None = None  # a mail's one-click unsubscribe link (RFC 8058)
    # The same for every attempt at one message (the outbox row's key): a platform that
    # de-duplicates retried sends (LINE's X-Line-Retry-Key) derives its key from it.
    message_key: str | None = None


class DeliveryError(Exception):
    """Sending failed; the subclass says what delivery should do about it."""


class RateLimited(DeliveryError):
    """The platform said 429: wait `retry_after` seconds before sending to `scope` again."""

    def __init__(self, retry_after: float, scope: str = "channel") -> None:
        super().__init__(f"rate limited for {retry_after}s ({scope})")
        self.retry_after = retry_after
        self.scope = scope  # "channel": the whole bot / workspace; "chat": this chat only


class Unreachable(DeliveryError):
    """Permanent for this identity (blocked the bot, deactivated, chat not found; a mail
    server's 5xx for the address)."""


class TransientError(DeliveryError):
    """Network errors and 5xx (a mail server's 4xx): retry later with backoff."""


class Channel(Protocol):
    name: str  # "slack", "telegram", "console"

    async def start(self, *, webhooks: bool = False) -> None:
        """Connect (auth.test / getMe), register commands; before serving anything. `webhooks`
        is set by `serve`, whose routes receive the platform's pushes (a platform that must be
        told where to push registers that address then; `run` and `worker` leave it alone)."""

    async def stop(self) -> None: ...

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        """Deliver a proactive message; return the chat id used (to remember it), or raise a
        DeliveryError subclass."""

    def web_routes(self) -> list[BaseRoute]:
        """HTTP endpoints for `serve` (Slack events, Telegram webhook); [] if none."""

    async def poll(self) -> None:
        """Development mode for `run` (Socket Mode, long polling): runs until cancelled."""


@runtime_checkable
class Prepares(Protocol):
    """A channel that gets ready for a whole claimed batch at once before the worker sends it
    (Telegram and LINE issue every message's button tokens in one transaction)."""

    async def prepare(self, batch: Sequence[tuple[Recipient, Reply]]) -> None:
        """Called with the batch's recipients (their `message_key` set) and replies; `send` then
        uses what was prepared for a recipient with that key, and copes when nothing was."""
