"""CSV exports for admins: people, interactions, surveys, referrals, RSVPs and outcomes in a date
range.

Rows are streamed from the database in pages (an export may be the whole network) and written
as UTF-8 with a byte-order mark, so Excel in Japan opens the file without garbling it. People
who used `forgetme` are never in an export: a row about them, or naming them, is left out.
Text that a spreadsheet would run as a formula is escaped (bot/core/spreadsheet.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.spreadsheet import safe_row
from storage.models import (
    Event,
    Interaction,
    Opening,
    Outcome,
    Person,
    Referral,
    Rsvp,
    SurveyResponse,
)
from storage.reports.facts import FACTS, F, dialect_of, facts
from storage.reports.filter import Filter
from storage.segments import people_in

KINDS = ("people", "interactions", "surveys", "referrals", "rsvps", "outcomes")
PAGE = 2000
ENCODING = "utf-8-sig"  # UTF-8 with BOM

HEADERS = {
    "people": ("email", "name", "department", "title", "joined_on", "left_on", "join_route",
               "leave_reason", "comeback", "colleague_in_person", "colleague_online",
               "manager_in_person", "manager_online", "other", "index"),
    "interactions": ("occurred_on", "kind", "source", "email_a", "name_a", "email_b", "name_b"),
    "surveys": ("email", "name", "period", "rejoin", "keep_in_touch", "recommend", "index",
                "answered_at"),
    "referrals": ("id", "created_at", "opening", "kind", "status", "referrer_email",
                  "referrer_name", "candidate_name", "candidate_contact", "relationship", "why",
                  "updated_at"),
    "rsvps": ("event_id", "event", "starts_at", "email", "name", "status", "attended"),
    "outcomes": ("id", "occurred_on", "kind", "value_yen", "currency", "amount", "rate",
                 "salary_yen", "email", "name", "note", "source", "referral_id", "created_at",
                 "withdrawn_at"),
}  # fmt: skip

FORGOTTEN_NAME = "—"  # what forgetting leaves in a referral's candidate name


class BadKind(ValueError):
    pass


def _cell(value: Any, zone: ZoneInfo) -> Any:
    """A timestamp in the company's zone with its offset (`2026-12-01T09:30:00+09:00`), so a
    spreadsheet in Tokyo shows the hour people saw; a day stays a day."""
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    if value is None:
        return ""
    return value


def _query(kind: str, f: Filter, dialect: str) -> Any:
    live = Person.forgotten_at.is_(None)
    if kind == "interactions":
        a, b = aliased(Person), aliased(Person)
        members = people_in(f.segment, dialect)  # either side in the segment (the web console's)
        either = (
            true()
            if members is None
            else or_(Interaction.person_a.in_(members), Interaction.person_b.in_(members))
        )
        return (
            select(Interaction.occurred_on, Interaction.kind, Interaction.source,
                   a.email, a.name, b.email, b.name)
            .join(a, a.id == Interaction.person_a)
            .join(b, b.id == Interaction.person_b)
            .where(a.forgotten_at.is_(None), b.forgotten_at.is_(None))
            .where(Interaction.occurred_on >= f.start, Interaction.occurred_on <= f.end, either)
            .order_by(Interaction.occurred_on, Interaction.id)
        )  # fmt: skip
    if kind == "surveys":
        s = SurveyResponse
        return (
            select(Person.email, Person.name, s.period, s.rejoin, s.keep_in_touch, s.recommend,
                   (s.rejoin + s.keep_in_touch + s.recommend) / 3.0, s.answered_at)
            .join(Person, Person.id == s.person_id)
            .where(live, s.answered_at >= f.since, s.answered_at < f.until)
            .order_by(s.answered_at, s.id)
        )  # fmt: skip
    if kind == "referrals":
        r, referrer, candidate = Referral, aliased(Person), aliased(Person)
        return (
            select(r.id, r.created_at, Opening.title, r.kind, r.status, referrer.email,
                   referrer.name, r.candidate_name, r.candidate_contact, r.relationship_,
                   r.why, r.updated_at)
            .join(Opening, Opening.id == r.opening_id)
            .outerjoin(referrer, referrer.id == r.referrer_id)
            .outerjoin(candidate, candidate.id == r.candidate_person_id)
            .where(r.created_at >= f.since, r.created_at < f.until)
            .where(referrer.forgotten_at.is_(None), candidate.forgotten_at.is_(None))
            .where(r.candidate_name != FORGOTTEN_NAME)
            .order_by(r.created_at, r.id)
        )  # fmt: skip
    if kind == "rsvps":
        return (
            select(Event.id, Event.title, Event.starts_at, Person.email, Person.name,
                   Rsvp.status, Rsvp.attended)
            .join(Event, Event.id == Rsvp.event_id)
            .join(Person, Person.id == Rsvp.person_id)
            .where(live, Event.starts_at >= f.since, Event.starts_at < f.until)
            .order_by(Event.starts_at, Event.id, Rsvp.id)
        )  # fmt: skip
    if kind == "outcomes":
        o = Outcome
        return (
            select(o.id, o.occurred_on, o.kind, o.value_yen, o.currency, o.amount, o.rate,
                   o.salary_yen, Person.email, Person.name, o.note, o.source, o.referral_id,
                   o.created_at, o.withdrawn_at)
            .join(Person, Person.id == o.person_id)
            .where(live, o.occurred_on >= f.start, o.occurred_on <= f.end)
            .order_by(o.occurred_on, o.id)
        )  # fmt: skip
    if kind == "people":
        p = Person
        return (
            select(p.email, p.name, p.department, p.title, p.joined_on, p.left_on, p.join_route,
                   p.leave_reason, p.comeback, F.c_in, F.c_on, F.m_in, F.m_on, F.o_all, F.idx)
            .join(FACTS, F.id == p.id)
            .where(live)
            .order_by(p.id)
        )  # fmt: skip
    raise BadKind(kind)


async def rows(session: AsyncSession, kind: str, f: Filter) -> AsyncIterator[list[Any]]:
    """The header, then every row of the export, a page at a time from the database."""
    if kind not in KINDS:
        raise BadKind(kind)
    yield list(HEADERS[kind])
    if kind == "people":
        # One row an alumnus, with the report's figures from its temporary table: read whole
        # (a streamed cursor would keep the table in use until the transaction ends).
        async with facts(session, f):
            for found in await session.execute(_query(kind, f, dialect_of(session))):
                yield [_cell(v, f.zone) for v in found]
        return
    async for row in _stream(session, _query(kind, f, dialect_of(session)), f.zone):
        yield row


async def _stream(session: AsyncSession, query: Any, zone: ZoneInfo) -> AsyncIterator[list[Any]]:
    result = await session.stream(query.execution_options(yield_per=PAGE))
    try:
        async for page in result.partitions(PAGE):
            for row in page:
                yield [_cell(v, zone) for v in row]
    finally:
        await result.close()  # a server-side cursor: closed before its table is dropped


async def to_bytes(session: AsyncSession, kind: str, f: Filter) -> tuple[bytes, int]:
    """The whole CSV file in memory (chat attachments), and its number of data rows."""
    buffer = io.StringIO(newline="")
    count = await _write(session, kind, f, buffer.write)
    return buffer.getvalue().encode(ENCODING), count


async def to_file(session: AsyncSession, kind: str, f: Filter, path: Path) -> int:
    """Write the CSV file (created or replaced whole: no half-written file is left behind if
    the export fails); the number of data rows."""
    part = path.with_name(path.name + ".part")
    try:
        with part.open("w", encoding=ENCODING, newline="") as out:
            count = await _write(session, kind, f, out.write)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return count


async def _write(
    session: AsyncSession, kind: str, f: Filter, write: Callable[[str], object]
) -> int:
    class Sink:
        def write(self, text: str) -> object:
            return write(text)

    writer = csv.writer(Sink(), lineterminator="\r\n")
    count = -1
    async for row in rows(session, kind, f):
        writer.writerow(safe_row(row))
        count += 1
    return count
