"""Running the bot: broadcasts, the outbox, the inbox, rate limits, processed inbound ids, button
tokens, forms in progress and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, InboxState, OutboxState
from storage.types import utcnow


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
    """A proactive message waiting to be delivered (bot/runtime/delivery.py).

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
    state: Mapped[str] = mapped_column(String(20), default=OutboxState.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class InboxItem(Base):
    """An update or event a platform pushed, recorded before it is acknowledged (storage/inbox.py):
    a crash means it is handled again, never lost. `key` is the platform's id for it, so a
    platform's retry of something already recorded is dropped."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "key"),
        Index("ix_inbox_due", "state", "id"),
        Index("ix_inbox_conversation", "conversation", "state"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200))
    conversation: Mapped[str] = mapped_column(String(200))  # handled in order, one at a time
    body: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(20), default=InboxState.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    done_at: Mapped[datetime | None]


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
    # The user id the keyboard was shown to: in a group, nobody else's press acts for them.
    owner: Mapped[str | None] = mapped_column(String(128))
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


class MonthlySends(Base):
    """Proactive messages a platform counted against a monthly plan (LINE's pushes), per month
    in the platform's own calendar (storage/quota.py): shared by every process."""

    __tablename__ = "monthly_sends"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    count: Mapped[int] = mapped_column(Integer, default=0)
