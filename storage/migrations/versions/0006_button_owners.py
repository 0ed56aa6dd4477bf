"""button tokens remember whom they were shown to

In a Telegram group anyone can press a keyboard the bot showed to one person; the owner column
lets a press by someone else act for nobody. Tokens issued before have no owner, which is only
trusted in a private chat.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 06:18:06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("button_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("button_tokens", schema=None) as batch_op:
        batch_op.drop_column("owner")
