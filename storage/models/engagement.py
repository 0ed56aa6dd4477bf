"""The interaction log and the alumni-consciousness pulse."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import utcnow


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
