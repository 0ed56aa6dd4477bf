"""The platforms the bot speaks on, described once: the registry every layer derives from.

Segments (`channel:NAME`), reachability, routing, the people importer and the channels that
`run`/`serve` build all read this table. Adding a platform is one `Platform` line here, one
package under `bot/channels/<name>/` (the adapter named by `adapter`), its settings in
bot/core/settings.py, and its tests (docs/architecture.md, "A channel")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from bot.core.settings import Settings


@dataclass(frozen=True)
class Quota:
    """A platform whose plans count proactive messages a month (LINE's pushes): they are counted
    always; with a `limit` (None: none set), past `low_priority_share` of it low-priority kinds
    go elsewhere or wait."""

    limit: int | None
    low_priority_share: float


@dataclass(frozen=True)
class Platform:
    name: str  # the value stored in `identities.channel`
    deliverable: bool  # proactive messages (the outbox) can go there
    command_prefix: str  # how a person types a command there
    adapter: str | None = None  # "module:Class" of its channel, imported only when configured
    configured: Callable[[Settings], bool] = lambda _settings: False
    id_column: str | None = None  # the people CSV column holding a user id there
    numeric_ids: bool = False  # user ids are numbers
    user_is_chat: bool = False  # a user id is also the private chat's id
    invite_link: Callable[[Settings, str], str | None] = lambda _settings, _code: None
    workspaces: bool = False  # identities live in workspaces (a place is named by its team)
    credentials: str = ""  # what an operator sets to turn it on, for error messages
    group_chat: Callable[[str], bool] = lambda _chat: False  # a chat id is a group's
    tables: str | None = None  # module declaring the tables its SDK keeps, for Alembic
    quota: Callable[[Settings], Quota | None] = lambda _settings: None  # sends counted a month
    setup: str | None = None  # "module:function" run by `alumni-bot NAME setup`: async (App) -> str


PLATFORMS: tuple[Platform, ...] = (
    Platform("console", deliverable=False, command_prefix="/"),
    Platform(
        "slack", deliverable=True, command_prefix="/alumni ",
        adapter="bot.channels.slack.channel:SlackChannel",
        configured=lambda s: bool(
            s.slack_bot_token or (s.slack_client_id and s.slack_client_secret)
        ),
        id_column="slack_user_id", workspaces=True,
        credentials="SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)",
        tables="bot.channels.slack.tables",
    ),
    Platform(
        "telegram", deliverable=True, command_prefix="/",
        adapter="bot.channels.telegram.channel:TelegramChannel",
        configured=lambda s: bool(s.telegram_bot_token),
        id_column="telegram_user_id", numeric_ids=True, user_is_chat=True,
        credentials="TELEGRAM_BOT_TOKEN", group_chat=lambda chat: chat.startswith("-"),
        invite_link=lambda s, code: (
            f"https://t.me/{s.telegram_bot_username}?start={code}"
            if s.telegram_bot_username
            else None
        ),
    ),
    Platform(
        "line", deliverable=True, command_prefix="",
        adapter="bot.channels.line.channel:LineChannel",
        setup="bot.channels.line.channel:setup_command",
        configured=lambda s: bool(s.line_channel_access_token and s.line_channel_secret),
        user_is_chat=True, credentials="LINE_CHANNEL_ACCESS_TOKEN and LINE_CHANNEL_SECRET",
        group_chat=lambda chat: chat.startswith(("C", "R")),
        invite_link=lambda s, code: (
            f"https://line.me/R/oaMessage/{quote(s.line_basic_id, safe='@')}/?join%20{code}"
            if s.line_basic_id
            else None
        ),
        quota=lambda s: Quota(s.line_monthly_push_limit, s.line_low_priority_share),
    ),
)  # fmt: skip

BY_NAME = {p.name: p for p in PLATFORMS}
DELIVERABLE: tuple[str, ...] = tuple(p.name for p in PLATFORMS if p.deliverable)
ID_COLUMNS: dict[str, str] = {p.name: p.id_column for p in PLATFORMS if p.id_column}


def platform(name: str) -> Platform:
    return BY_NAME[name]


def nothing_configured() -> str:
    """What to say when no platform is configured: the settings that would turn one on."""
    wanted = " or ".join(p.credentials for p in PLATFORMS if p.credentials)
    return f"no channel configured: set {wanted}"


def invite_links(settings: Settings, code: str) -> list[tuple[str, str]]:
    """(platform, link) for every platform that can open a chat with an invite code."""
    found = ((p.name, p.invite_link(settings, code)) for p in PLATFORMS)
    return [(name, link) for name, link in found if link]
