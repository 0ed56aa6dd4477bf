"""The outcomes ledger: what the network brought (issue 22), in yen."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import utcnow


class Outcome(Base):
    """A rehire, a referral hire, a contract, a deal or a purchase credited to a person.

    `value_yen` is what counts; a value given in another currency keeps the amount and the rate
    it was converted at, and a rehire valued from a salary keeps the salary. Withdrawn outcomes
    stay (the audit log points at them) but count nowhere."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # rehire|referral_hire|contract|deal|purchase
    value_yen: Mapped[int] = mapped_column(BigInteger)
    occurred_on: Mapped[date] = mapped_column(Date, index=True)
    currency: Mapped[str] = mapped_column(String(3), default="JPY")
    amount: Mapped[float | None] = mapped_column(Float)  # in `currency`, when not yen
    rate: Mapped[float | None] = mapped_column(Float)  # yen for one unit of `currency`
    salary_yen: Mapped[int | None] = mapped_column(BigInteger)  # a rehire's stated salary
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # cli | chat | import | pipeline
    referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("referrals.id", ondelete="SET NULL"), unique=True
    )
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    withdrawn_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
