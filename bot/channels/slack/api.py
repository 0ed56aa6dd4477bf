"""The Slack Web API side of the Slack channel: clients, who a user is, DMs, posting.

Two clients share one aiohttp session: the interactive one retries a short 429 itself (slack_sdk's
`AsyncRateLimitErrorRetryHandler`, docs/architecture.md; a longer one sends the answer to the
outbox), the bulk one used by delivery does not, because the delivery worker owns the waiting.
Slack errors become `DeliveryError` subclasses here."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.channels.slack import render
from bot.channels.slack.install import Installations
from bot.core.channel import DeliveryError, RateLimited, TransientError, Unreachable
from bot.core.settings import SettingsError
from bot.core.types import Actor, Reply

log = logging.getLogger(__name__)

# The bot's token itself no longer works in that workspace (uninstalled, revoked).
WORKSPACE_GONE = frozenset({"token_revoked", "invalid_auth", "not_authed", "team_not_found"})
UNREACHABLE = frozenset(
    {"account_inactive", "user_not_found", "channel_not_found", "is_archived",
     "not_in_channel", "cannot_dm_bot", "user_disabled", "team_access_not_granted"}
)  # fmt: skip
TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
USER_TTL = 3600.0  # seconds a users.info answer (language, name) is kept
CACHE_SIZE = 10_000
SIGNATURE_AGE = 300  # Bolt's limit too: older requests are refused as replays


class WorkspaceGone(Unreachable):
    """Nobody in this workspace can be reached any more: the bot's token was revoked."""


RETRY_INLINE_MAX_S = 3.0  # an answer waits out a short 429; a longer one goes to the outbox


class ShortRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retry, for someone waiting for an answer: only when Slack asks for a few
    seconds. A longer Retry-After raises, and the answer is retried by the outbox worker instead
    of holding an inbox slot for it."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        values = {k.lower(): v for k, v in response.headers.items()}.get("retry-after") or ["1"]
        try:
            return float(values[0]) <= RETRY_INLINE_MAX_S
        except ValueError:
            return True


def delivery_error(exc: SlackApiError) -> DeliveryError:
    """slack_sdk's error as what delivery should do about it."""
    status = exc.response.status_code
    data = exc.response.data
    error = str(data.get("error", "")) if isinstance(data, dict) else ""
    if status == 429:
        headers = {str(k).lower(): v for k, v in dict(exc.response.headers or {}).items()}
        raw = headers.get("retry-after", "1")
        try:
            retry_after = float(raw[0] if isinstance(raw, list) else raw)
        except ValueError:
            retry_after = 1.0
        return RateLimited(retry_after, "channel")
    if error in WORKSPACE_GONE:
        return WorkspaceGone(error)
    if error in UNREACHABLE:
        return Unreachable(error)
    if status >= 500 or error in TRANSIENT:
        return TransientError(error or f"HTTP {status}")
    return DeliveryError(error or f"HTTP {status}")


def signed(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    """Slack's `v0=` HMAC-SHA256 of `v0:{ts}:{body}`, for bodies Bolt cannot even parse."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False  # not a Unix time in seconds (and int() of 400 digits is not free)
    if not signature.isascii() or abs(now - int(timestamp)) > SIGNATURE_AGE:
        return False
    base = f"v0:{timestamp}:".encode() + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class SlackApi:
    """The Web API for every workspace the bot is in: one client pair per bot token (all on one
    aiohttp session), the token chosen by the workspace (`Installations`)."""

    def __init__(
        self,
        token: str | None,
        base_url: str,
        installations: Installations,
        trusted_teams: frozenset[str] = frozenset(),
    ) -> None:
        self.token = token
        # Workspaces whose verified emails may link a Slack user to a person: any workspace can
        # install a distributed app, so trusting every email would let a stranger's workspace
        # become whoever has that address (an admin, say).
        self.trusted_teams = trusted_teams
        self.installations = installations
        self.base_url = base_url.rstrip("/") + "/"
        self.session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._bulk: AsyncWebClient | None = None
        self.bot_user_id = ""
        self.team = ""
        self.team_id = ""
        self._clients: dict[str, tuple[AsyncWebClient, AsyncWebClient]] = {}
        # (expires, locale, name, verified email) per team:user
        self._users: dict[str, tuple[float, str | None, str | None, str | None]] = {}
        self._dms: dict[str, str] = {}

    def _pair(self, token: str | None) -> tuple[AsyncWebClient, AsyncWebClient]:
        interactive = AsyncWebClient(
            token,
            base_url=self.base_url,
            session=self.session,
            retry_handlers=[
                *async_default_handlers(),
                ShortRateLimitRetry(max_retry_count=2),
            ],
        )
        bulk = AsyncWebClient(
            token, base_url=self.base_url, session=self.session, retry_handlers=[]
        )
        return interactive, bulk

    async def start(self) -> None:
        self.session = aiohttp.ClientSession()
        self._client, self._bulk = self._pair(self.token)
        if not self.token:
            return  # OAuth only: each workspace's token comes from its installation
        try:
            auth = await self._client.auth_test()
        except SlackApiError as exc:
            await self.close()
            error = exc.response.get("error")
            raise SettingsError(f"Slack refused SLACK_BOT_TOKEN: {error}") from None
        self.bot_user_id = str(auth.get("user_id", ""))
        self.team = str(auth.get("team", ""))
        self.team_id = str(auth.get("team_id", ""))
        self.installations.single_team = self.team_id
        self.installations.single_bot_user = self.bot_user_id

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    @property
    def client(self) -> AsyncWebClient:
        if self._client is None:
            raise RuntimeError("SlackApi.start() was not called")
        return self._client

    @property
    def bulk(self) -> AsyncWebClient:
        if self._bulk is None:
            raise RuntimeError("SlackApi.start() was not called")
        return self._bulk

    async def clients_for(self, team: str) -> tuple[AsyncWebClient, AsyncWebClient]:
        """(interactive, bulk) clients with this workspace's bot token; Unreachable when the
        bot is not installed there (any more)."""
        found = await self.installations.bot(team)
        if found is None:
            raise WorkspaceGone(f"workspace_not_installed: {team or '?'}")
        token = found[0]
        if token == self.token:
            return self.client, self.bulk
        if token not in self._clients:
            if len(self._clients) >= CACHE_SIZE:
                self._clients.clear()
            self._clients[token] = self._pair(token)
        return self._clients[token]

    async def client_for(self, team: str) -> AsyncWebClient:
        return (await self.clients_for(team))[0]

    def forget(self, team: str) -> None:
        """Drop what is cached for a workspace that removed the app."""
        self.installations.forget(team)
        prefix = f"{team}:"
        for cache in (self._users, self._dms):
            for key in [k for k in cache if k.startswith(prefix)]:
                del cache[key]

    async def actor(self, team: str, user: str) -> Actor:
        """The Slack user with their language and name (users.info, cached for an hour)."""
        key = f"{team}:{user}"
        cached = self._users.get(key)
        if cached is None or cached[0] < time.monotonic():
            locale = name = email = None
            try:
                client = await self.client_for(team)
                info = await client.users_info(user=user, include_locale=True)
                data = info.get("user") or {}
                locale = data.get("locale")
                profile = data.get("profile") or {}
                name = profile.get("display_name") or profile.get("real_name") or data.get("name")
                email = profile.get("email")  # verified by Slack; needs users:read.email
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("slack: users.info failed for %s: %s", user, exc)
            if len(self._users) >= CACHE_SIZE:
                self._users.clear()
            cached = (time.monotonic() + USER_TTL, locale, name, email)
            self._users[key] = cached
        email = cached[3] if self.trusts(team) else None
        return Actor("slack", user, team, cached[2], cached[1], verified_email=email)

    def trusts(self, team: str) -> bool:
        """SLACK_TRUSTED_TEAMS, or else the single token's own workspace (no OAuth)."""
        if self.trusted_teams:
            return team in self.trusted_teams
        return bool(team) and not self.installations.multi and team == self.team_id

    def remember_dm(self, team: str, user: str, channel: str) -> None:
        self._dms[f"{team}:{user}"] = channel

    async def dm(self, team: str, user: str, client: AsyncWebClient | None = None) -> str:
        """The person's DM channel with the bot (conversations.open, cached)."""
        key = f"{team}:{user}"
        if key not in self._dms:
            opened = await (client or await self.client_for(team)).conversations_open(users=user)
            if len(self._dms) >= CACHE_SIZE:
                self._dms.clear()
            self._dms[key] = str(opened["channel"]["id"])
        return self._dms[key]

    async def post(
        self, channel: str, reply: Reply, client: AsyncWebClient | None = None, *, team: str = ""
    ) -> None:
        """A reply as one or more messages (Block Kit limits), then its file if any."""
        client = client or await self.client_for(team)
        if reply.text or reply.buttons or reply.attachment is None:
            for message in render.messages(reply):
                await client.chat_postMessage(channel=channel, **message)
        if reply.attachment is not None:
            a = reply.attachment
            await client.files_upload_v2(
                channel=channel, filename=a.filename, title=a.filename, content=a.content
            )

    async def respond(self, url: str, reply: Reply) -> None:
        """An ephemeral answer through a slash command's or a button's `response_url`."""
        hook = AsyncWebhookClient(url, session=self.session)
        for message in render.messages(reply):
            result = await hook.send_dict({"response_type": "ephemeral", **message})
            if result.status_code != 200:
                log.error("slack: response_url answered %s: %s", result.status_code, result.body)

    async def send(self, workspace: str, user: str, chat_id: str | None, reply: Reply) -> str:
        """Delivery's proactive message: errors become DeliveryError subclasses."""
        try:
            bulk = (await self.clients_for(workspace))[1]
            channel = chat_id or await self.dm(workspace, user, bulk)
            await self.post(channel, reply, bulk)
        except SlackApiError as exc:
            raise delivery_error(exc) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        return channel
