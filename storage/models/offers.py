"""What the network offers: comeback openings, matches, referrals, perks and events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import utcnow


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
