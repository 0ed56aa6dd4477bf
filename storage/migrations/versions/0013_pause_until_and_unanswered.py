"""pause until a date, and unanswered check-ins for back-off

`pause until 2027-01-12` keeps the end of a pause (the local midnight it ends, as UTC) so the
housekeeping tick resumes it by itself; `unanswered_checkins` counts the check-ins sent since the
person last answered one, so the bot writes less to people who stopped answering.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:34:20.571938
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_until", storage.types.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("unanswered_checkins", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_people_paused_until"), ["paused_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_paused_until"))
        batch_op.drop_column("unanswered_checkins")
        batch_op.drop_column("paused_until")
