"""the inbox: inbound updates and events recorded before they are acknowledged

Telegram's update_id used to be marked processed before the update was handled, and Slack
events were acknowledged and then handled in memory: a crash lost them. Now every channel
records what it receives in `inbox` and handles it from there (storage/inbox.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 06:31:27.080098
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("conversation", sa.String(length=200), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", storage.types.UTCDateTime(), nullable=True),
        sa.Column("leased_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("received_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("done_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("channel", "key", name=op.f("uq_inbox_channel_key")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_conversation", ["conversation", "state"], unique=False)
        batch_op.create_index("ix_inbox_due", ["state", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbox_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_received_at"))
        batch_op.drop_index("ix_inbox_due")
        batch_op.drop_index("ix_inbox_conversation")

    op.drop_table("inbox")
