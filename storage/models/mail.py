"""Mail: each person's standing with it (unsubscribed, bounced, the unsubscribe token) and the
invitation campaigns sent by it (handlers/invitations.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import utcnow


class MailContact(Base):
    """A person the bot mails: the token of their unsubscribe link, and whether mail may go to
    them at all (not after they unsubscribed, nor after a 5xx bounce, until HR fixes the
    address)."""

    __tablename__ = "mail_contacts"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(43), unique=True)
    unsubscribed_at: Mapped[datetime | None]
    bounced_at: Mapped[datetime | None]
    bounce_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    """One `invite --all` (or HR's `invite all`): a personal invitation mail to each person of a
    segment not yet in the network, and one reminder."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    segment: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft|queued
    invited: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignInvitation(Base):
    """A person invited by mail: by which campaign, with which code, whether reminded. A person
    is invited by mail once, ever (`person_id` unique): running a campaign again skips them."""

    __tablename__ = "campaign_invitations"
    __table_args__ = (UniqueConstraint("person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invites.id", ondelete="SET NULL"))
    address: Mapped[str] = mapped_column(String(320))
    remind_at: Mapped[datetime | None] = mapped_column(index=True)  # None: reminded, or no need
    reminded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
