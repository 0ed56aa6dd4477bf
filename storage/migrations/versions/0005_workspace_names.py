"""workspace names in a table of our own, not read out of Slack's installation store

Before this, a place was named "Slack · Alumni Co" by reading `slack_bots`, so the storage layer
knew one platform's tables. `workspaces` keeps (channel, workspace) → name for any platform whose
identities live in workspaces; the names Slack installations already gave are copied over.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "workspace", name=op.f("pk_workspaces")),
    )
    bots = sa.table(
        "slack_bots",
        sa.column("team_id", sa.String),
        sa.column("team_name", sa.String),
        sa.column("installed_at", sa.DateTime),
    )
    workspaces = sa.table(
        "workspaces",
        sa.column("channel", sa.String),
        sa.column("workspace", sa.String),
        sa.column("name", sa.String),
        sa.column("updated_at", sa.DateTime),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(bots.c.team_id, bots.c.team_name, bots.c.installed_at)
        .where(bots.c.team_id.isnot(None), bots.c.team_name.isnot(None))
        .order_by(bots.c.installed_at)
    ).all()
    latest = {team: (name, at) for team, name, at in rows}  # the newest installation's name
    if latest:
        op.bulk_insert(
            workspaces,
            [
                {"channel": "slack", "workspace": team, "name": name, "updated_at": at}
                for team, (name, at) in latest.items()
            ],
        )


def downgrade() -> None:
    op.drop_table("workspaces")
