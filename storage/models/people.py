"""People, their chat identities, roles, relations and invites."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, Cadence, Comeback
from storage.models.operations import FormState
from storage.types import utcnow


class Person(Base):
    """An alumnus or a current employee. Alumni have `left_on`."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    # Where mail reaches them once the company address closes (a leaver); mail goes here when set.
    private_email: Mapped[str | None] = mapped_column(String(320))
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
    # `pause until DATE`: the local midnight it ends (UTC), when the housekeeping tick resumes.
    paused_until: Mapped[datetime | None] = mapped_column(index=True)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    opt_outs: Mapped[list[str]] = mapped_column(default=list)
    # The country whose public holidays nothing proactive lands on (ISO 3166, "JP"); none: the
    # one of their time zone. And how many job and perk messages: "fewer", "normal", "more".
    country: Mapped[str | None] = mapped_column(String(2))
    notices: Mapped[str] = mapped_column(String(10), default="normal", server_default="normal")
    forgotten_at: Mapped[datetime | None]

    # Schedules live here, claimed by workers (docs/architecture.md: no scheduler job per person).
    checkin_cadence: Mapped[str] = mapped_column(String(20), default=Cadence.MONTHLY)
    checkin_minute: Mapped[int | None] = mapped_column(Integer)  # preferred local minute of day
    next_checkin_at: Mapped[datetime | None] = mapped_column(index=True)
    last_checkin_at: Mapped[datetime | None]
    # Check-ins sent since the last answer: 3 stretch the cadence to twice its period, 6 stop
    # them (handlers/checkins.py); any answer sets it back to 0.
    unanswered_checkins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
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
    # The form in progress, read with the identity for every message (storage/people.py);
    # written only as a FormState of its own, never through this attribute.
    form_state: Mapped[FormState | None] = relationship(viewonly=True, lazy="raise")


class Workspace(Base):
    """A workspace's name as its members know it ("Alumni Co"), for platforms whose identities
    live in workspaces; written by the channel when it learns the name (an installation)."""

    __tablename__ = "workspaces"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


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
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
