"""Segments of people: whom a broadcast, an event invitation or a report is about.

One parser and one SQL condition for every feature that picks people: `all`, `alumni`,
`employees`, `department:NAME`, `skill:NAME`, `join_route:new_grad|mid_career`,
`channel:NAME` of any deliverable platform (has an identity there), `comeback` (open to a
comeback, or maybe) and `event:ID` (answered going, maybe, or is waiting for a seat)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement as Column

from bot.core.normalize import number, tidy
from bot.core.platforms import DELIVERABLE as DELIVERABLE
from storage.models import Comeback, Identity, JoinRoute, Person, Rsvp

KINDS = ("all", "alumni", "employees", "department", "skill", "join_route", "channel", "comeback",
         "event")  # fmt: skip
NEEDS_VALUE = frozenset({"department", "skill", "join_route", "channel", "event"})
RSVPED = ("going", "maybe", "waitlist")


class BadSegment(ValueError):
    """`key` is the message key explaining what is wrong (broadcasts.po)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Segment:
    kind: str
    value: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else self.kind


ALL = Segment("all")


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def parse_segment(kind: str, value: str = "") -> Segment:
    """`parse_segment("department", "営業")`, or one string: `parse_segment("skill:Python")`."""
    if not value and ":" in kind:
        kind, value = kind.split(":", 1)
    kind, value = kind.strip().lower(), tidy(value)
    if kind not in KINDS:
        raise BadSegment("broadcasts.bad_segment")
    if kind not in NEEDS_VALUE:
        return Segment(kind)
    if not value:
        raise BadSegment("broadcasts.target_required")
    if len(value) > 150:
        raise BadSegment("broadcasts.bad_target")
    if kind == "channel" and value.lower() not in DELIVERABLE:
        raise BadSegment("broadcasts.bad_channel")
    if kind == "join_route" and value.lower() not in {r.value for r in JoinRoute}:
        raise BadSegment("broadcasts.bad_join_route")
    event_id = number(value) if kind == "event" else None
    if kind == "event" and event_id is None:
        raise BadSegment("broadcasts.bad_event")
    if kind in ("channel", "join_route"):
        value = value.lower()
    return Segment(kind, str(event_id) if event_id is not None else value)


def segment_clause(segment: Segment, dialect: str) -> ColumnElement[bool]:
    """A condition on `people` selecting the segment (correlated where it needs other tables)."""
    match segment.kind:
        case "alumni":
            return Person.left_on.is_not(None)
        case "employees":
            return Person.left_on.is_(None)
        case "department":
            return func.lower(Person.department) == segment.value.lower()
        case "join_route":
            return Person.join_route == segment.value
        case "comeback":
            return Person.comeback.in_((Comeback.OPEN, Comeback.MAYBE))
        case "channel":
            on = Identity.channel == segment.value
            return exists().where(Identity.person_id == Person.id, on)
        case "event":
            return exists().where(
                Rsvp.person_id == Person.id,
                Rsvp.event_id == int(segment.value),
                Rsvp.status.in_(RSVPED),
            )
        case "skill":
            # Skills are a JSON array: unnest it in the database (json_each on SQLite).
            unnest = func.json_each if dialect == "sqlite" else func.json_array_elements_text
            skills = unnest(Person.skills).table_valued("value")
            value: Column[str] = skills.c.value
            return exists(
                select(1).select_from(skills).where(func.lower(value) == fold(segment.value))
            )
    return true()


def people_in(segment: Segment, dialect: str) -> Select[Any] | None:
    """The ids of the segment's people for an IN (...), or None for everyone."""
    if segment.kind == "all":
        return None
    return select(Person.id).where(segment_clause(segment, dialect))


async def contains(session: AsyncSession, segment: Segment, person_id: int) -> bool:
    """Whether one person is in the segment (asked of the database, like every selection)."""
    dialect = session.get_bind().dialect.name
    found = exists().where(Person.id == person_id, segment_clause(segment, dialect))
    return bool(await session.scalar(select(found)))
