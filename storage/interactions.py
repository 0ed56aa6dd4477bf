"""The interaction log: who met whom, when and how. Stored once per pair, day and kind, however
many sides log it (the lower person id is always `person_a`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Interaction, InteractionKind, Relation
from storage.outbox import insert_ignore


async def record(
    session: AsyncSession,
    a: int,
    b: int,
    kind: InteractionKind | str,
    day: date,
    *,
    source: str,
    logged_by: int | None,
    now: datetime,
    note: str | None = None,
) -> bool:
    """Log a contact; False when that pair already has one of this kind on that day."""
    if a == b:
        raise ValueError("an interaction needs two different people")
    low, high = sorted((a, b))
    result = await session.execute(
        insert_ignore(session, Interaction.__table__).values(
            person_a=low,
            person_b=high,
            kind=str(kind),
            occurred_on=day,
            source=source,
            logged_by=logged_by,
            note=note,
            created_at=now,
        )
    )
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)


# "manager": the other was this person's manager; "report": this person was the other's
# manager; "colleague": worked together. A manager link wins over a colleague link.
RELATION_RANK = {"manager": 0, "report": 1, "colleague": 2}


async def relation_kinds(session: AsyncSession, person_id: int) -> dict[int, str]:
    rows = await session.execute(
        select(Relation.person_id, Relation.other_id, Relation.kind).where(
            or_(Relation.person_id == person_id, Relation.other_id == person_id)
        )
    )
    kinds: dict[int, str] = {}
    for a, b, kind in rows:
        other = b if a == person_id else a
        if other == person_id:
            continue
        mine = kind if kind == "colleague" else ("manager" if a == person_id else "report")
        if other not in kinds or RELATION_RANK[mine] < RELATION_RANK[kinds[other]]:
            kinds[other] = mine
    return kinds


async def last_contacts(
    session: AsyncSession, person_id: int, others: Iterable[int]
) -> dict[int, date]:
    """The latest contact day with each of `others` (absent: never)."""
    others = list(others)
    if not others:
        return {}
    partner = case(
        (Interaction.person_a == person_id, Interaction.person_b), else_=Interaction.person_a
    )
    rows = await session.execute(
        select(partner, func.max(Interaction.occurred_on))
        .where(
            or_(
                and_(Interaction.person_a == person_id, Interaction.person_b.in_(others)),
                and_(Interaction.person_b == person_id, Interaction.person_a.in_(others)),
            )
        )
        .group_by(partner)
    )
    return {other: day for other, day in rows}


async def year_counts(
    session: AsyncSession, person_id: int, start: date, end: date
) -> Counter[tuple[str, str]]:
    """Contacts between `start` and `end` by (relation, kind): relation is manager, report,
    colleague or other; kind is in_person or online."""
    rows = await session.execute(
        select(Interaction.person_a, Interaction.person_b, Interaction.kind).where(
            or_(Interaction.person_a == person_id, Interaction.person_b == person_id),
            Interaction.occurred_on >= start,
            Interaction.occurred_on <= end,
        )
    )
    kinds = await relation_kinds(session, person_id)
    counts: Counter[tuple[str, str]] = Counter()
    for a, b, kind in rows:
        other = b if a == person_id else a
        counts[(kinds.get(other, "other"), kind)] += 1
    return counts


def suggest(kinds: dict[int, str], last: dict[int, date], limit: int = 3) -> list[int]:
    """Whom to reach out to: the longest without contact first (never is longest), former
    managers before reports before colleagues on a tie — the research says managers matter most."""
    return sorted(kinds, key=lambda o: (last.get(o, date.min), RELATION_RANK[kinds[o]], o))[:limit]
