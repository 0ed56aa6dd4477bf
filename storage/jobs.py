"""Openings and their matches: what the jobs feature asks of the database, and the openings CSV
import (docs/contracts.md format, all or nothing, bad rows by line)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.matching import Found, Profile, Wanted, synonyms
from bot.core.normalize import distinct_items, fold, number
from storage.importer import (
    ImportFailed,
    Progress,
    RowError,
    RowProblem,
    _date,
    problem,
    read_rows,
    row_error,
)
from storage.models import Comeback, Match, Opening, Person
from storage.outbox import insert_ignore

OPENING_COLUMNS = (
    "title", "department", "description", "skills", "nice_to_have", "location", "closes_on",
)  # fmt: skip
SPLIT = re.compile(r"[;；,，、\n]+")
MAX_SKILL_CHARS = 60
EMPLOYMENT_TYPES = ("full_time", "part_time", "contract")
COMEBACK_OK = (Comeback.OPEN.value, Comeback.MAYBE.value)


def split_skills(text: str) -> list[str]:
    """`Python; SQL、営業` → distinct items, spaces collapsed, in the order given."""
    return distinct_items(SPLIT.split(text))


def skills_problem(items: list[str], maximum: int, *, required: bool) -> str | None:
    """The message key of what is wrong with a skills list (jobs.po), or None."""
    if required and not items:
        return "jobs.no_skills"
    if len(items) > maximum:
        return "jobs.too_many_skills"
    if any(len(i) > MAX_SKILL_CHARS for i in items):
        return "jobs.skill_too_long"
    return None


def is_remote(location: str | None) -> bool:
    """「東京 / リモート可」, "Remote", 「在宅」: any spelling of remote inside the location."""
    if not location:
        return False
    folded, table = fold(location), synonyms().whole
    remote = table.get(fold("リモート"), fold("リモート"))
    return any(s in folded for s, c in table.items() if c == remote)


def is_open(today: date) -> ColumnElement[bool]:
    return and_(
        Opening.status == "open", or_(Opening.closes_on.is_(None), Opening.closes_on >= today)
    )


def wanted(o: Opening) -> Wanted:
    return Wanted(o.id, o.title, o.skills, o.nice_to_have, o.department, o.location, o.remote)


def profile(p: Person) -> Profile:
    return Profile(p.id, p.skills or [], p.desired_roles or [], p.department, p.location)


async def get(session: AsyncSession, opening_id: str | int) -> Opening | None:
    found = opening_id if isinstance(opening_id, int) else number(opening_id)
    return await session.get(Opening, found) if found else None


async def open_openings(session: AsyncSession, today: date, limit: int = 500) -> list[Opening]:
    query = select(Opening).where(is_open(today)).order_by(Opening.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def all_openings(session: AsyncSession, limit: int = 30) -> list[Opening]:
    """For HR: open ones first, then the most recent."""
    query = (
        select(Opening).order_by((Opening.status == "open").desc(), Opening.id.desc()).limit(limit)
    )
    return list(await session.scalars(query))


def profile_columns() -> tuple[Any, ...]:
    """What matching reads of a person, and whether they may hear of openings (`profile_of`)."""
    eligible = and_(
        Person.left_on.is_not(None),
        Person.forgotten_at.is_(None),
        Person.consent_at.is_not(None),
        Person.comeback.in_(COMEBACK_OK),
    )
    return (
        Person.id,
        Person.skills,
        Person.desired_roles,
        Person.department,
        Person.location,
        Person.opt_outs,
        eligible.label("eligible"),
    )


def profile_of(row: Any) -> Profile | None:
    """A row of `profile_columns` as matching reads it; None for someone who may not hear of
    openings (not an alumnus, forgotten, not consented, not open to a comeback, opted out)."""
    if not row.eligible or "jobs" in (row.opt_outs or []):
        return None
    return Profile(row.id, row.skills or [], row.desired_roles or [], row.department, row.location)


async def candidates(session: AsyncSession) -> list[Profile]:
    """Alumni who may hear of openings: consented, said yes or maybe to a comeback, not opted
    out of job notices, not forgotten. Paused people are kept: their notices wait."""
    columns = profile_columns()
    rows = await session.execute(select(*columns).where(columns[-1]))
    return [p for row in rows if (p := profile_of(row)) is not None]


async def save_matches(
    session: AsyncSession, opening_id: int, found: Sequence[Found], now: datetime
) -> None:
    """Store matches (pending notice); a match already stored is left as it is."""
    if not found:
        return
    await session.execute(
        insert_ignore(session, Match.__table__),
        [
            {
                "opening_id": opening_id,
                "person_id": f.person_id,
                "score": f.score,
                "reason": f.reason,
                "created_at": now,
            }
            for f in found
        ],
    )


async def match_of(session: AsyncSession, opening_id: int, person_id: int) -> Match | None:
    query = select(Match).where(Match.opening_id == opening_id, Match.person_id == person_id)
    return (await session.scalars(query)).first()


def _pending(today: date) -> Any:
    return and_(
        Match.notified_at.is_(None), Match.response.is_(None), Match.opening_id == Opening.id,
        is_open(today),
    )  # fmt: skip


@dataclass
class Notice:
    person: Person
    matches: list[tuple[Match, Opening]]


async def due_notices(
    session: AsyncSession,
    *,
    now: datetime,
    today: date,
    not_since: datetime,
    person_ids: Sequence[int] | None = None,
    limit: int = 200,
    per_person: int = 3,
) -> list[Notice]:
    """People with pending matches on open openings who have had no job message since
    `not_since`, and those matches (best first). Claimed with row locks on PostgreSQL, so
    several workers never send the same person two messages."""
    query = (
        select(Person)
        .where(
            Person.forgotten_at.is_(None),
            Person.consent_at.is_not(None),
            Person.paused.is_(False),
            or_(Person.last_job_notice_at.is_(None), Person.last_job_notice_at <= not_since),
            exists().where(Match.person_id == Person.id, _pending(today)),
        )
        .order_by(Person.id)
        .limit(limit)
    )
    if person_ids is not None:
        query = query.where(Person.id.in_(list(person_ids)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Person)
    people = list(await session.scalars(query))
    if not people:
        return []
    rows = await session.execute(
        select(Match, Opening)
        .where(Match.person_id.in_([p.id for p in people]), _pending(today))
        .order_by(Match.person_id, Match.score.desc(), Match.id)
    )
    by_person: dict[int, list[tuple[Match, Opening]]] = {}
    for match, opening in rows.all():
        by_person.setdefault(match.person_id, []).append((match, opening))
    return [Notice(p, by_person.get(p.id, [])[:per_person]) for p in people]


async def skip_pending(session: AsyncSession, person_id: int, today: date) -> None:
    """Someone who can no longer hear of openings (opted out, no longer open to a comeback):
    their pending matches are set aside rather than picked up by every digest tick."""
    pending = select(Match.id).join(Opening, Match.opening_id == Opening.id).where(
        Match.person_id == person_id, Match.notified_at.is_(None), Match.response.is_(None),
        is_open(today),
    )  # fmt: skip
    await session.execute(
        update(Match)
        .where(Match.id.in_(pending))
        .values(response="skipped")
        .execution_options(synchronize_session=False)
    )


async def count_matches(session: AsyncSession, opening_id: int) -> int:
    query = select(func.count()).where(Match.opening_id == opening_id)
    return int(await session.scalar(query) or 0)


# -- import -----------------------------------------------------------------------------------


def validate_opening(
    row: dict[str, str], today: date, max_skills: int
) -> tuple[dict[str, Any], list[RowProblem]]:
    errors: list[RowProblem] = []
    title = row.get("title", "")
    if not title:
        errors.append(problem("imports.empty", column="title"))
    for name in ("title", "department", "location"):
        if len(row.get(name, "")) > 200:
            errors.append(problem("imports.too_long", column=name, limit=200))
    if len(row.get("description", "")) > 3000:
        errors.append(problem("imports.too_long", column="description", limit=3000))
    skills = split_skills(row.get("skills", ""))
    nice = split_skills(row.get("nice_to_have", ""))
    for name, items, required in (("skills", skills, True), ("nice_to_have", nice, False)):
        why = skills_problem(items, max_skills, required=required)
        if why == "jobs.no_skills":
            errors.append(problem("imports.no_skills", column=name))
        elif why == "jobs.too_many_skills":
            errors.append(
                problem("imports.too_many_items", column=name, count=len(items), limit=max_skills)
            )
        elif why:
            errors.append(problem("imports.item_too_long", column=name, limit=MAX_SKILL_CHARS))
    closes = _date(row.get("closes_on", ""), "closes_on", errors)
    if closes is not None and closes < today:
        errors.append(problem("imports.in_the_past", column="closes_on", value=closes.isoformat()))
    location = row.get("location") or None
    return {
        "title": title,
        "department": row.get("department") or None,
        "description": row.get("description", ""),
        "skills": skills,
        "nice_to_have": nice,
        "location": location,
        "remote": is_remote(location),
        "closes_on": closes,
    }, errors


async def import_openings(
    session: AsyncSession,
    data: bytes,
    now: datetime,
    today: date,
    max_skills: int,
    progress: Progress | None = None,
) -> list[Opening]:
    """Every row checked first; any bad row and nothing is written (ImportFailed)."""
    rows = read_rows(data, OPENING_COLUMNS, OPENING_COLUMNS)
    errors: list[RowError] = []
    parsed: list[dict[str, Any]] = []
    for line, row in rows:
        values, problems = validate_opening(row, today, max_skills)
        errors += [RowError(line, (p,)) for p in problems]
        parsed.append(values)
    if errors:
        raise ImportFailed(errors)
    if not parsed:
        raise ImportFailed([row_error(2, "imports.no_openings")])
    created = []
    for done, values in enumerate(parsed, start=1):
        opening = Opening(**values, status="open", owner_id=None, created_at=now)
        session.add(opening)
        created.append(opening)
        if progress:
            progress(done)
    await session.flush()
    return created
