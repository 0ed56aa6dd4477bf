"""monthly send counts for platforms with monthly plans

LINE's plans allow 200, 5,000 or 30,000 pushes a month (replies are free) and the fixed plans
cannot buy more: the bot counts its pushes in `monthly_sends`, shared by every process, so that
delivery can keep the last of the month's pushes for check-ins and people's own requests, and
`stats` can show the month's usage.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:13:58.612484
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monthly_sends",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "month", name=op.f("pk_monthly_sends")),
    )


def downgrade() -> None:
    op.drop_table("monthly_sends")
