"""tidy typed labels: NFKC skills, desired roles, department, title, leave reason, location

Before this, what a Japanese keyboard types full-width (ｐｙｔｈｏｎ, ＩＴ部) or half-width (ｴｸｾﾙ)
was stored as typed, so a `skill:python` segment found it when broadcasting (matched in Python)
but not in reports or event audiences (matched in SQL), and reports grouped 「ＩＴ部」 apart from
「IT部」. New values are tidied on the way in (bot.core.normalize.tidy); this tidies the stored
ones.
Data only; there is nothing to undo on the way down (the typed forms are not kept). Tidying is
written out here rather than imported, so this migration means the same whatever the code
becomes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 23:40:00
"""

import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 1000
LABELS = ("department", "title", "leave_reason", "location")
LISTS = ("skills", "desired_roles")
people = sa.table(
    "people",
    sa.column("id", sa.Integer),
    *(sa.column(name, sa.String) for name in LABELS),
    *(sa.column(name, sa.JSON) for name in LISTS),
)


def tidy(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def distinct_items(items: list[str]) -> list[str]:
    found: dict[str, str] = {}
    for item in map(tidy, items):
        if item:
            found.setdefault(item.casefold(), item)
    return list(found.values())


def _tidied(row: Any) -> dict[str, Any]:
    """The columns of `row` that tidying changes, with their new values."""
    changed: dict[str, Any] = {}
    for name in LABELS:
        value = getattr(row, name)
        if value is not None and (tidy(value) or None) != value:
            changed[name] = tidy(value) or None
    for name in LISTS:
        items = getattr(row, name) or []
        if distinct_items(items) != items:
            changed[name] = distinct_items(items)
    return changed


def upgrade() -> None:
    conn, after = op.get_bind(), 0
    while True:
        rows = conn.execute(
            sa.select(people).where(people.c.id > after).order_by(people.c.id).limit(PAGE)
        ).all()
        if not rows:
            return
        for row in rows:
            if changed := _tidied(row):
                conn.execute(sa.update(people).where(people.c.id == row.id).values(**changed))
        after = rows[-1].id


def downgrade() -> None:
    pass
