"""The whole product's tables (DESIGN.md). Features add columns through migrations, never by
creating tables behind Alembic's back.

Conventions: timestamps are aware UTC (`UTCDateTime`); calendar dates are `Date`; enumerations
are short strings checked by the code that writes them (StrEnum below), so adding a value needs
no migration; lists (skills, desired roles) are JSON arrays of strings."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}  # noqa: RUF012


class Role(StrEnum):
    ALUMNI = "alumni"
    EMPLOYEE = "employee"
    HR = "hr"
    ADMIN = "admin"


class JoinRoute(StrEnum):
    NEW_GRAD = "new_grad"
    MID_CAREER = "mid_career"


class Comeback(StrEnum):
    UNKNOWN = "unknown"
    OPEN = "open"
    MAYBE = "maybe"
    NOT_NOW = "not_now"


class Cadence(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    OFF = "off"


class Channel(StrEnum):
    CONSOLE = "console"
    SLACK = "slack"
    TELEGRAM = "telegram"


class InteractionKind(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"


class Person(Base):
    """An alumnus or a current employee. Alumni have `left_on`."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_kana: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    joined_on: Mapped[date | None] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date, index=True)
    join_route: Mapped[str | None] = mapped_column(String(20))
    leave_reason: Mapped[str | None] = mapped_column(String(200))
    skills: Mapped[list[str]] = mapped_column(default=list)
    desired_roles: Mapped[list[str]] = mapped_column(default=list)
    location: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str | None] = mapped_column(String(64))
    comeback: Mapped[str] = mapped_column(String(20), default=Comeback.UNKNOWN)

    # Privacy: consent, pause, quiet hours and per-feature opt-outs ("jobs", "perks", "events",
    # "nudges", "broadcasts", "surveys", "checkins").
    consent_at: Mapped[datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(40))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    opt_outs: Mapped[list[str]] = mapped_column(default=list)
    forgotten_at: Mapped[datetime | None]

    # Schedules live here, claimed by workers (DESIGN.md: no scheduler job per person).
    checkin_cadence: Mapped[str] = mapped_column(String(20), default=Cadence.MONTHLY)
    checkin_minute: Mapped[int | None] = mapped_column(Integer)  # preferred local minute of day
    next_checkin_at: Mapped[datetime | None] = mapped_column(index=True)
    last_checkin_at: Mapped[datetime | None]
    next_survey_at: Mapped[datetime | None] = mapped_column(index=True)
    next_nudge_at: Mapped[datetime | None] = mapped_column(index=True)
    last_job_notice_at: Mapped[datetime | None]

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", foreign_keys="Identity.person_id", cascade="all, delete-orphan"
    )
    grants: Mapped[list[RoleGrant]] = relationship(
        cascade="all, delete-orphan", foreign_keys="RoleGrant.person_id"
    )

    @property
    def is_alumnus(self) -> bool:
        return self.left_on is not None

    @property
    def is_forgotten(self) -> bool:
        return self.forgotten_at is not None


class Identity(Base):
    """A chat identity: (channel, workspace, user id). A person may have several."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "workspace", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str | None] = mapped_column(String(128))  # DM channel / private chat id
    display_name: Mapped[str | None] = mapped_column(String(200))
    locale_hint: Mapped[str | None] = mapped_column(String(16))
    # Where proactive messages go: the reachable identity with the lowest priority first.
    priority: Mapped[int] = mapped_column(Integer, default=100)
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person | None] = relationship(
        back_populates="identities", foreign_keys=[person_id]
    )


class RoleGrant(Base):
    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("person_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class Relation(Base):
    """`person` worked with `other`: as colleagues, or `other` was `person`'s manager."""

    __tablename__ = "relations"
    __table_args__ = (UniqueConstraint("person_id", "other_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    other_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # colleague | manager


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Interaction(Base):
    """A contact between two people, stored once per pair, day and kind (person_a < person_b)."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("person_a", "person_b", "occurred_on", "kind"),
        Index("ix_interactions_person_b", "person_b", "occurred_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_a: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    person_b: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    occurred_on: Mapped[date] = mapped_column(Date, index=True)
    source: Mapped[str] = mapped_column(String(20))  # log | checkin | event | intro | import
    logged_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyResponse(Base):
    """The alumni-consciousness pulse: three 1–5 items; one answer per person and period."""

    __tablename__ = "survey_responses"
    __table_args__ = (UniqueConstraint("person_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(10))  # e.g. 2026H2
    rejoin: Mapped[int | None] = mapped_column(Integer)
    keep_in_touch: Mapped[int | None] = mapped_column(Integer)
    recommend: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Opening(Base):
    __tablename__ = "openings"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    skills: Mapped[list[str]] = mapped_column(default=list)
    nice_to_have: Mapped[list[str]] = mapped_column(default=list)
    location: Mapped[str | None] = mapped_column(String(200))
    remote: Mapped[bool] = mapped_column(Boolean, default=False)
    employment_type: Mapped[str | None] = mapped_column(String(40))
    welcome_note: Mapped[str | None] = mapped_column(Text)
    closes_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Match(Base):
    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("opening_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opening_id: Mapped[int] = mapped_column(ForeignKey("openings.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    score: Mapped[float]
    reason: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notified_at: Mapped[datetime | None]
    response: Mapped[str | None] = mapped_column(String(20))  # interested | not_for_me
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Referral(Base):
    """A referral or an alumnus's own interest (kind) moving through HR's pipeline."""

    __tablename__ = "referrals"
    __table_args__ = (UniqueConstraint("opening_id", "candidate_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opening_id: Mapped[int] = mapped_column(ForeignKey("openings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="referral")  # referral | interest
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    candidate_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    candidate_name: Mapped[str] = mapped_column(String(200))
    candidate_contact: Mapped[str | None] = mapped_column(String(320))
    candidate_key: Mapped[str] = mapped_column(String(320))  # normalised contact, for duplicates
    relationship_: Mapped[str | None] = mapped_column("relationship", String(200))
    why: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="submitted", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Perk(Base):
    __tablename__ = "perks"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    partner: Mapped[str | None] = mapped_column(String(200))
    how_to_redeem: Mapped[str | None] = mapped_column(Text)
    eligibility: Mapped[str] = mapped_column(String(20), default="all")  # all|tenure|department
    min_tenure_months: Mapped[int | None] = mapped_column(Integer)
    department: Mapped[str | None] = mapped_column(String(200))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    announced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PerkCode(Base):
    __tablename__ = "perk_codes"
    __table_args__ = (UniqueConstraint("perk_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    perk_id: Mapped[int] = mapped_column(ForeignKey("perks.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(200))
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]


class PerkClaim(Base):
    __tablename__ = "perk_claims"
    __table_args__ = (UniqueConstraint("perk_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    perk_id: Mapped[int] = mapped_column(ForeignKey("perks.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    code_id: Mapped[int | None] = mapped_column(ForeignKey("perk_codes.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(100), unique=True)  # stable iCalendar UID
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    place: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(500))
    capacity: Mapped[int | None] = mapped_column(Integer)
    rsvp_deadline: Mapped[datetime | None]
    segment: Mapped[str] = mapped_column(String(200), default="all")
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled|cancelled
    checkin_code: Mapped[str | None] = mapped_column(String(20))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rsvp(Base):
    __tablename__ = "rsvps"
    __table_args__ = (UniqueConstraint("event_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # going | maybe | no | waitlist
    waitlisted_at: Mapped[datetime | None]
    attended: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_24h_at: Mapped[datetime | None]
    reminded_1h_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Broadcast(Base):
    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    segment: Mapped[str] = mapped_column(String(200))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    opening_id: Mapped[int | None] = mapped_column(ForeignKey("openings.id", ondelete="SET NULL"))
    buttons: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft|queued|done
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BroadcastClick(Base):
    __tablename__ = "broadcast_clicks"
    __table_args__ = (UniqueConstraint("broadcast_id", "person_id", "action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(40))
    clicked_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A proactive message waiting to be delivered (bot/delivery.py).

    queued → sending (leased) → sent | failed (will retry) | dead (gave up / unreachable)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "not_before"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("identities.id", ondelete="SET NULL")
    )
    channel: Mapped[str | None] = mapped_column(String(20))
    workspace: Mapped[str | None] = mapped_column(String(64))
    recipient: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    kind: Mapped[str] = mapped_column(String(40))  # checkin | nudge | job | broadcast | ...
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class RateLimit(Base):
    """Shared rate-limit state for delivery (one row per bucket: channel, workspace, chat)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_at: Mapped[datetime]
    paused_until: Mapped[datetime | None]


class ProcessedEvent(Base):
    """Inbound event ids already handled (Slack retries, Telegram update ids)."""

    __tablename__ = "processed_events"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ButtonToken(Base):
    """Opaque short ids standing for (action, payload) where a platform limits button data."""

    __tablename__ = "button_tokens"

    token: Mapped[str] = mapped_column(String(24), primary_key=True)
    action: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FormState(Base):
    """A step-by-step form in progress for one chat identity (console, Telegram)."""

    __tablename__ = "form_states"

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    form: Mapped[dict[str, Any]]  # the declared form, as the handler returned it
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    step: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


# -- Slack installations (several workspaces, OAuth) ---------------------------------------------
# slack_sdk's AsyncSQLAlchemyInstallationStore and AsyncSQLAlchemyOAuthStateStore read and write
# these tables (bot/channels/slack_install.py). Their columns mirror slack_sdk's own definitions
# (`build_installations_table`, `build_bots_table`, `build_oauth_states_table`), declared here so
# that Alembic creates them in our database and nothing is created behind its back. Times are
# naive UTC, as slack_sdk writes them.


def _slack_common() -> list[Column[Any]]:
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(32), nullable=False),
        Column("app_id", String(32), nullable=False),
        Column("enterprise_id", String(32)),
        Column("enterprise_name", String(200)),
    ]


slack_installations = Table(
    "slack_installations",
    Base.metadata,
    *_slack_common(),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(
        "slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id",
        "installed_at",
    ),
)  # fmt: skip

slack_bots = Table(
    "slack_bots",
    Base.metadata,
    *_slack_common(),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
