"""a person's country for holidays, and how many job and perk messages they want

`country` (ISO 3166) overrides the country of the person's time zone for public holidays (a
Japanese alumna living in London who wants Japan's); `notices` is "fewer", "normal" or "more"
job and perk messages under the weekly cap.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:16:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        batch_op.add_column(
            sa.Column("notices", sa.String(length=10), server_default="normal", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("notices")
        batch_op.drop_column("country")
