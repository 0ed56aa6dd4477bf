"""The console's inbox: proactive messages the delivery worker left for a console identity,
shown (and marked read) when `alumni-bot chat --as EMAIL` opens.

Declared on the project's metadata, so Alembic creates and compares it like our own tables;
storage/migrations/env.py loads this module through the platform registry (`Platform.tables`).
A row belongs to an identity, not a person: forgetting someone deletes their identities, and
their inbox with them (ON DELETE CASCADE), like their form states and button tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import utcnow


class ConsoleMessage(Base):
    __tablename__ = "console_messages"
    __table_args__ = (Index("ix_console_messages_unread", "identity_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]]  # the Reply, as the outbox holds it (Reply.to_dict)
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
