"""the console's inbox: proactive messages left for a console identity

The console was not deliverable, so a newcomer's first run never saw a check-in, a nudge or a
reminder. The delivery worker now leaves them in `console_messages` (declared in
bot/channels/console/tables.py), which `alumni-bot chat --as EMAIL` prints when it opens and
marks read. Rows belong to an identity and go with it (forgetting someone deletes them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:12:54.059063
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("delivered_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("read_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_console_messages_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_messages")),
    )
    with op.batch_alter_table("console_messages", schema=None) as batch_op:
        batch_op.create_index("ix_console_messages_unread", ["identity_id", "read_at"])


def downgrade() -> None:
    with op.batch_alter_table("console_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_console_messages_unread")
    op.drop_table("console_messages")
