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
    # "module:Class" of a channel that keeps messages in the bot's own database until the person
    # opens the chat (the console's inbox): it needs no credentials, so every worker delivers
    # there; nothing rings, so quiet hours do not hold its messages; and it is used only for
    # someone the bot can reach nowhere else.
    local: str | None = None
    # People chat there: commands come in, identities live there, segments name it. False: a
    # mail channel, whose outbox messages carry their address (`outbox.recipient`) from the
    # start; it needs no identity and nothing comes in by it.
    chat: bool = True
    quota: Callable[[Settings], Quota | None] = lambda _settings: None  # sends counted a month
    setup: str | None = None  # "module:function" run by `alumni-bot NAME setup`: async (App) -> str


PLATFORMS: tuple[Platform, ...] = (
    Platform(
        "console", deliverable=True, command_prefix="/",
        local="bot.channels.console.channel:ConsoleChannel",
        tables="bot.channels.console.tables",
    ),
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
        "smtp", deliverable=True, command_prefix="", chat=False,
        adapter="bot.channels.smtp.channel:MailChannel",
        configured=lambda s: bool(s.smtp_url), credentials="SMTP_URL and MAIL_FROM",
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
# The chat places proactive messages can go to (through a person's identity there).
DELIVERABLE: tuple[str, ...] = tuple(p.name for p in PLATFORMS if p.deliverable and p.chat)
LOCAL: tuple[str, ...] = tuple(p.name for p in PLATFORMS if p.local)
ELSEWHERE: tuple[str, ...] = tuple(p for p in DELIVERABLE if p not in LOCAL)  # notify people
# The mail channel: invitations to people the bot has not met in chat (None: there is none).
MAIL: str | None = next((p.name for p in PLATFORMS if p.deliverable and not p.chat), None)
ID_COLUMNS: dict[str, str] = {p.name: p.id_column for p in PLATFORMS if p.id_column}


def platform(name: str) -> Platform:
    return BY_NAME[name]


def nothing_configured() -> str:
    """What to say when no platform is configured: the settings that would turn one on."""
    wanted = " or ".join(p.credentials for p in PLATFORMS if p.credentials and p.chat)
    return f"no channel configured: set {wanted}"


def is_mail(name: str | None) -> bool:
    found = BY_NAME.get(name or "")
    return found is not None and not found.chat


def mail_configured(settings: Settings) -> bool:
    return MAIL is not None and BY_NAME[MAIL].configured(settings)


def mail_off() -> str:
    """What to say when mail is not configured: the settings that turn it on."""
    wanted = BY_NAME[MAIL].credentials if MAIL else "a mail channel"
    return f"mail is off: set {wanted}"


def invite_links(settings: Settings, code: str) -> list[tuple[str, str]]:
    """(platform, link) for every platform that can open a chat with an invite code."""
    found = ((p.name, p.invite_link(settings, code)) for p in PLATFORMS)
    return [(name, link) for name, link in found if link]
