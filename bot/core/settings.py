"""Settings: `config/settings.toml`, then the file named by ALUMNI_BOT_CONFIG, then the
environment (the variables of docs/contracts.md). Validated once at start-up; a bad value
stops the program with one clear line (see `load_settings`)."""

from __future__ import annotations

import os
from datetime import date, time
from email.utils import parseaddr
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

LOCALES = ("ja", "en")


class SettingsError(Exception):
    """A setting has a bad value; the message is one line meant for an operator."""


class PrivacySettings(BaseModel):
    consent_version: str = "2026-11"
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)


class InviteSettings(BaseModel):
    default_expiry_days: int = Field(30, ge=1, le=3650)


class LimitSettings(BaseModel):
    max_message_chars: int = Field(4000, ge=100, le=100_000)


class ChannelLimit(BaseModel):
    """One platform's send limits (bot/runtime/delivery.py); shared by every worker through the
    database. `per_second` is the whole bot's budget, or each workspace's when
    `per_workspace`; `chat_per_second` spaces messages to one chat; `group_per_minute` applies
    instead to group chats (Telegram group ids are negative)."""

    per_second: float = Field(1.0, gt=0, le=10_000)
    per_workspace: bool = False
    chat_per_second: float = Field(1.0, gt=0, le=10_000)
    group_per_minute: float = Field(20.0, gt=0, le=100_000)


class DatabaseSettings(BaseModel):
    """PostgreSQL's connection pool in each process (storage/db.py says why these defaults).
    PostgreSQL allows 100 connections unless told otherwise: every process may hold up to
    pool_size + max_overflow."""

    pool_size: int = Field(50, ge=1, le=1000)
    max_overflow: int = Field(10, ge=0, le=1000)


class InboxSettings(BaseModel):
    """How `serve` and `run` handle what platforms push (storage/inbox.py)."""

    concurrency: int = Field(8, ge=1, le=200)  # items handled at once per process
    # Renewed every third of it while handling; a killed process's items are taken over after it.
    lease_seconds: float = Field(30, ge=1, le=86_400)
    poll_seconds: float = Field(1.0, gt=0, le=60)  # looking for what a crashed process left
    max_attempts: int = Field(5, ge=1, le=100)  # handling interrupted this often: given up
    stop_seconds: float = Field(10, ge=0, le=600)  # a clean stop waits this long for work


class DeliverySettings(BaseModel):
    batch_size: int = Field(100, ge=1, le=5000)
    batches_in_flight: int = Field(2, ge=1, le=20)
    lease_seconds: float = Field(300, ge=5, le=86_400)
    poll_seconds: float = Field(1.0, gt=0, le=300)
    max_ahead_seconds: float = Field(60, gt=0, le=3600)
    send_timeout_seconds: float = Field(30, gt=0, le=600)
    max_attempts: int = Field(8, ge=1, le=100)
    backoff_base_seconds: float = Field(5, gt=0, le=3600)
    backoff_max_seconds: float = Field(3600, gt=0, le=86_400)
    drain_wait_seconds: float = Field(60, ge=0, le=86_400)
    enqueue_batch_size: int = Field(1000, ge=1, le=10_000)
    # At most this many proactive messages a person in any 7 days (check-ins, job notices and
    # digests, perks, event announcements); more waits. Urgent broadcasts and answers are
    # exempt, check-ins go first. 0: no cap.
    weekly_cap: int = Field(2, ge=0, le=100)
    limits: dict[str, ChannelLimit] = Field(
        default_factory=lambda: {
            "telegram": ChannelLimit(per_second=30, chat_per_second=1, group_per_minute=20),
            "slack": ChannelLimit(per_second=10, per_workspace=True, chat_per_second=1),
            "console": ChannelLimit(per_second=1000, chat_per_second=1000),  # a table insert
            "smtp": ChannelLimit(per_second=5, chat_per_second=1),
            # The Messaging API allows 2,000 push requests a second; far below that, politely.
            "line": ChannelLimit(per_second=100, chat_per_second=1),
        }
    )

    def limit(self, channel: str) -> ChannelLimit:
        return self.limits.get(channel) or ChannelLimit()

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> DeliverySettings:
        # A claimed message may wait up to max_ahead_seconds for its rate-limit slot and then
        # take send_timeout_seconds to send: a shorter lease lets a second worker claim it
        # meanwhile, and the person gets it twice.
        needed = self.max_ahead_seconds + self.send_timeout_seconds
        if self.lease_seconds <= needed:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds:g}) must be longer than max_ahead_seconds"
                f" + send_timeout_seconds ({needed:g}), or messages are sent twice"
            )
        return self


class MailSettings(BaseModel):
    """Mail (bot/channels/smtp/, handlers/invitations.py): invitation reminders, and how long all
    mail waits when the SMTP server cannot be reached (nothing is lost, no attempt is used)."""

    reminder_days: int = Field(14, ge=1, le=365)  # one reminder this long after an invitation
    down_retry_seconds: float = Field(30, gt=0, le=3600)
    timeout_seconds: float = Field(20, gt=0, le=300)  # connecting and each SMTP command


def smtp_parts(url: str) -> tuple[str, str, int, str | None, str | None]:
    """(scheme, host, port, user, password) of an `smtp://` or `smtps://` URL; ValueError when
    it is not one (the message never repeats the URL, which may hold a password)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("must be smtp://[user:pass@]host:port or smtps://…")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("names no host: smtp://[user:pass@]host:port")
    default = 465 if parts.scheme == "smtps" else 587
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.scheme, parts.hostname, port or default, user, password


class MatchingSettings(BaseModel):
    """Job matching (bot/core/matching.py): rapidfuzz cut-offs (0–100), the weights of a match's
    parts (its score is their weighted mean, 0–1), and how many people hear of an opening."""

    skill_cutoff: float = Field(88, ge=50, le=100)  # fuzz.ratio of folded skills
    title_cutoff: float = Field(80, ge=50, le=100)  # fuzz.WRatio of title vs desired roles
    place_cutoff: float = Field(90, ge=50, le=100)  # fuzz.ratio of departments and locations
    min_query_chars: int = Field(3, ge=1, le=10)  # shorter terms must match exactly
    required_weight: float = Field(3.0, ge=0, le=100)
    nice_weight: float = Field(1.0, ge=0, le=100)
    title_weight: float = Field(1.5, ge=0, le=100)
    department_weight: float = Field(1.0, ge=0, le=100)
    location_weight: float = Field(0.5, ge=0, le=100)
    min_score: float = Field(0.3, ge=0, le=1)
    notify_top: int = Field(50, ge=0, le=10_000)  # best eligible matches told of an opening
    notice_interval_days: int = Field(7, ge=0, le=365)  # at most one job message per person
    digest_size: int = Field(3, ge=1, le=10)  # openings in one job message
    max_skills: int = Field(30, ge=1, le=200)  # per list on an opening


def default_config_file() -> Path:
    return Path(str(resources.files("config").joinpath("settings.toml")))


class CheckinSettings(BaseModel):
    """The engagement engine's cadences (handlers/checkins.py, handlers/surveys.py)."""

    # Check-ins go out at each person's preferred local time or, without one, at a time spread
    # over this local window by person id, so 10,000 people are not messaged in one minute.
    window_start: time = time(10, 0)
    window_end: time = time(19, 0)
    survey_months: int = Field(6, ge=1, le=24)
    nudge_every_days: int = Field(30, ge=7, le=365)
    nudge_after_days: int = Field(180, ge=30, le=3650)  # "not in touch for a long time"
    max_backdate_days: int = Field(365, ge=1, le=3650)  # oldest contact `log` accepts
    batch_size: int = Field(1000, ge=10, le=10_000)


class CalendarSettings(BaseModel):
    """Days nothing proactive lands on besides weekends and public holidays (bot/core/workdays.py):
    the company's closures as first and last day, e.g. Golden Week, Obon, the New Year."""

    closures: list[tuple[date, date]] = Field(default_factory=list)
    # The days of the week nothing proactive lands on (0 = Monday … 6 = Sunday), for a company
    # whose people work other days (shifts, retail: `[]`); none: each country's weekend.
    weekend: list[int] | None = None

    @field_validator("weekend")
    @classmethod
    def _weekdays(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(not 0 <= d <= 6 for d in value):
            raise ValueError("weekend days are 0 (Monday) to 6 (Sunday)")
        return value

    @field_validator("closures")
    @classmethod
    def _ordered(cls, value: list[tuple[date, date]]) -> list[tuple[date, date]]:
        for first, last in value:
            if first > last:
                raise ValueError(f"a closure ends before it starts: {first} – {last}")
            if (last - first).days > 60:
                raise ValueError(f"a closure longer than 60 days: {first} – {last}")
        return value


class OutcomeSettings(BaseModel):
    """The outcomes ledger (storage/outcomes.py): how a hire is valued when no value is given,
    and the largest value taken as a real one rather than a typing slip."""

    # A rehire or referral hire avoids an agency fee and hiring costs of about this share of
    # the annual salary; without a stated salary, `default_salary_yen` is assumed.
    hire_fee_rate: float = Field(0.35, ge=0, le=2)
    default_salary_yen: int = Field(6_000_000, ge=0, le=1_000_000_000)
    max_value_yen: int = Field(10_000_000_000, ge=1, le=10**15)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", populate_by_name=True)

    database_url: str = Field(
        "sqlite:///alumni.db", validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    default_locale: str = "ja"
    default_timezone: str = "Asia/Tokyo"
    public_url: str = Field("", validation_alias=AliasChoices("PUBLIC_URL", "public_url"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=AliasChoices("PORT", "port"))
    # `worker` serves /metrics on 0.0.0.0:WORKER_METRICS_PORT; none: no metrics server.
    worker_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("WORKER_METRICS_PORT", "worker_metrics_port"),
    )

    slack_bot_token: str | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    # Several workspaces (OAuth, docs/slack.md): with both set, `serve` offers /slack/install.
    slack_client_id: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_CLIENT_ID", "slack_client_id")
    )
    slack_client_secret: str | None = Field(
        None, validation_alias=AliasChoices("SLACK_CLIENT_SECRET", "slack_client_secret")
    )
    slack_scopes: list[str] = Field(
        default_factory=lambda: [
            "commands", "chat:write", "im:write", "im:history", "users:read", "users:read.email",
            "files:write"
        ]
    )  # fmt: skip
    # Workspaces whose verified emails may link a Slack user to a person (comma-separated ids);
    # none set: only the single SLACK_BOT_TOKEN's own workspace, and none under OAuth.
    slack_trusted_teams: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("SLACK_TRUSTED_TEAMS", "slack_trusted_teams"),
    )
    alumni_workspace_invite_url: str = ""  # the alumni Slack workspace's invite link

    telegram_bot_token: str | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot", validation_alias="TELEGRAM_API_URL"
    )
    telegram_webhook_secret: str | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_bot_username: str = ""

    # Mail (bot/channels/smtp/): off without SMTP_URL; MAIL_FROM is then required.
    smtp_url: str | None = Field(None, validation_alias=AliasChoices("SMTP_URL", "smtp_url"))
    mail_from: str | None = Field(None, validation_alias=AliasChoices("MAIL_FROM", "mail_from"))
    line_channel_secret: str | None = Field(None, validation_alias="LINE_CHANNEL_SECRET")
    line_channel_access_token: str | None = Field(
        None, validation_alias="LINE_CHANNEL_ACCESS_TOKEN"
    )
    line_api_url: str = Field("https://api.line.me", validation_alias="LINE_API_URL")
    # Pushes a month the plan allows (200 / 5,000 / 30,000); none: unlimited. Replies are free.
    line_monthly_push_limit: int | None = Field(
        None, ge=1, le=100_000_000, validation_alias="LINE_MONTHLY_PUSH_LIMIT"
    )
    # The official account's basic id (`@123abcde`) for invite links; read from /v2/bot/info
    # when the channel starts, or set here for processes that do not start it (`invite`).
    line_basic_id: str = ""
    # Share of the monthly limit after which low-priority pushes (digests, job notices) go to
    # the person's other identities or wait for next month.
    line_low_priority_share: float = Field(0.8, gt=0, le=1)

    database: DatabaseSettings = DatabaseSettings()
    privacy: PrivacySettings = PrivacySettings()
    mail: MailSettings = MailSettings()
    invites: InviteSettings = InviteSettings()
    limits: LimitSettings = LimitSettings()
    delivery: DeliverySettings = DeliverySettings()
    inbox: InboxSettings = InboxSettings()
    matching: MatchingSettings = MatchingSettings()
    checkins: CheckinSettings = CheckinSettings()
    calendar: CalendarSettings = CalendarSettings()
    outcomes: OutcomeSettings = OutcomeSettings()

    @field_validator("slack_trusted_teams", mode="before")
    @classmethod
    def _teams(cls, value: object) -> object:
        if isinstance(value, str):
            return [team.strip() for team in value.split(",") if team.strip()]
        return value

    @field_validator("smtp_url", "mail_from", mode="before")
    @classmethod
    def _unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value is not None:
            smtp_parts(value)
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str | None) -> str | None:
        if value is not None and "@" not in parseaddr(value)[1]:
            raise ValueError("must be an address like 'Alumni <alumni@example.com>'")
        return value

    @model_validator(mode="after")
    def _mail_needs_a_sender(self) -> Settings:
        if self.smtp_url and not self.mail_from:
            raise ValueError("MAIL_FROM must be set when SMTP_URL is")
        return self

    def base_url(self) -> str:
        """Where `serve` is reached from outside (links in mails): PUBLIC_URL, else this host."""
        return (self.public_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @field_validator("worker_metrics_port", "line_monthly_push_limit", mode="before")
    @classmethod
    def _no_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not an IANA time zone") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files: list[Path] = [default_config_file()]
        override = os.environ.get("ALUMNI_BOT_CONFIG")
        if override:
            files.append(Path(override))
        # Later sources lose to earlier ones: init, then environment, then override file, then
        # the packaged defaults.
        tomls = [TomlConfigSettingsSource(settings_cls, toml_file=f) for f in reversed(files)]
        return (init_settings, env_settings, *tomls)


def load_settings(**overrides: Any) -> Settings:
    """Read and validate every source; raise SettingsError with one readable line."""
    override = os.environ.get("ALUMNI_BOT_CONFIG")
    if override and not Path(override).is_file():
        raise SettingsError(f"ALUMNI_BOT_CONFIG names {override!r}, which is not a readable file")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise SettingsError(f"Setting '{where}' is invalid: {first['msg']}") from None
    except (OSError, ValueError) as exc:  # a TOML syntax error, an unreadable file
        raise SettingsError(f"Settings could not be read: {exc}") from None
