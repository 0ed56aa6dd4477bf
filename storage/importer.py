"""Bulk import of people and relations (docs/contracts.md CSV formats), all or nothing.

Every row is validated before anything is written; any bad row means nothing is imported and
every bad row is reported with its line number. Re-importing updates people by email."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.normalize import distinct_items, tidy
from bot.core.platforms import ID_COLUMNS, PLATFORMS, platform
from storage import mail
from storage.models import Identity, JoinRoute, Person, Relation

PEOPLE_COLUMNS = (
    "email", "name", "name_kana", "department", "title", "joined_on", "left_on", "join_route",
    "leave_reason", "skills", "location", "locale", "timezone", *ID_COLUMNS.values(),
    "private_email",
)  # fmt: skip
OPTIONAL_COLUMNS = ("name_kana", "private_email")  # absent: what is stored is kept
RELATION_COLUMNS = ("email", "other_email", "kind")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Progress = Callable[[int], None]
CHUNK = 1000  # ids per IN (…): well under SQLite's and PostgreSQL's bind-parameter limits


@dataclass
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

    @property
    def number(self) -> int:  # the row's line number in the file, under a platform-free name
        return self.line


UNCLOSED = 'a quote (") is not closed, or text follows a closing quote'
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\ud800-\udfff]")
MULTILINE = frozenset({"description", "nice_to_have", "note"})  # cells that may hold newlines


class ImportFailed(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s); nothing was imported")
        self.errors = errors


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)
    newly_left: list[int] = field(default_factory=list)  # people whose left_on was just set


def read_rows(
    data: bytes, columns: tuple[str, ...], required: Iterable[str]
) -> list[tuple[int, dict[str, str]]]:
    """Decode and parse; (line number, row) pairs. Raises ImportFailed on a bad file."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFailed([RowError(line, "not UTF-8 text (save the file as UTF-8)")]) from None
    reader = csv.DictReader(io.StringIO(content, newline=""), strict=True)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error:
        raise ImportFailed([RowError(1, UNCLOSED)]) from None
    if not header:
        raise ImportFailed([RowError(1, "the file is empty: a header row is needed")])
    reader.fieldnames = header
    problems = [f"missing column {c!r}" for c in required if c not in header]
    problems += [f"unknown column {c!r}" for c in header if c not in columns]
    problems += [
        f"column {c!r} appears twice" for c in dict.fromkeys(header) if header.count(c) > 1
    ]
    if problems:
        raise ImportFailed([RowError(1, "; ".join(problems))])
    rows = []
    start = 2
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            raise ImportFailed([RowError(start, UNCLOSED)]) from None
        spans = [
            k for k, v in row.items() if isinstance(v, str) and "\n" in v and k not in MULTILINE
        ]
        if spans:  # a quote left open swallows the rows after it
            message = f"{spans[0]} runs over several lines: {UNCLOSED}"
            raise ImportFailed([RowError(start, message)])
        if None in row:  # more cells than columns
            raise ImportFailed(
                [RowError(reader.line_num, "more cells than the header has columns")]
            )
        start = reader.line_num + 1
        broken = [k for k, v in row.items() if isinstance(v, str) and CONTROL.search(v)]
        if broken:  # a NUL or other control character: PostgreSQL refuses it, nobody can see it
            message = f"{broken[0]} holds a control character"
            raise ImportFailed([RowError(reader.line_num, message)])
        cleaned = {k: (v or "").strip() for k, v in row.items()}
        if any(cleaned.values()):
            rows.append((reader.line_num, cleaned))
    return rows


def _date(value: str, name: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{name} {value!r} is not a date like 2024-03-31")
        return None


def validate_person(row: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    errors: list[str] = []
    email = row.get("email", "").lower()
    if not EMAIL.match(email) or len(email) > 320:
        errors.append(f"email {row.get('email', '')!r} is not a valid address")
    private = row.get("private_email", "").lower()
    if private and (not EMAIL.match(private) or len(private) > 320):
        errors.append(f"private_email {row.get('private_email', '')!r} is not a valid address")
    if not row.get("name"):
        errors.append("name is empty")
    joined = _date(row.get("joined_on", ""), "joined_on", errors)
    left = _date(row.get("left_on", ""), "left_on", errors)
    if joined and left and left < joined:
        errors.append("left_on is before joined_on")
    route = row.get("join_route", "")
    if route and route not in {r.value for r in JoinRoute}:
        errors.append(f"join_route {route!r} must be new_grad or mid_career")
    locale = row.get("locale", "")
    if locale and locale not in ("ja", "en"):
        errors.append(f"locale {locale!r} must be ja or en")
    tz = row.get("timezone", "")
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(f"timezone {tz!r} is not an IANA time zone like Asia/Tokyo")
    for p in PLATFORMS:
        uid = row.get(p.id_column, "") if p.id_column else ""
        if p.numeric_ids and uid and not uid.isdigit():
            errors.append(f"{p.id_column} {uid!r} must be a number")
        if len(uid) > 128:
            errors.append(f"{p.id_column} is longer than 128 characters")
    for name in ("name", "name_kana", "department", "title", "leave_reason", "location"):
        if len(row.get(name, "")) > 200:
            errors.append(f"{name} is longer than 200 characters")
    skills = distinct_items(row.get("skills", "").split(";"))
    if len(skills) > 50:
        errors.append("more than 50 skills")
    values = {
        "email": email,
        "private_email": private or None,
        "name": row.get("name", ""),
        "name_kana": row.get("name_kana") or None,
        "department": tidy(row.get("department", "")) or None,
        "title": tidy(row.get("title", "")) or None,
        "joined_on": joined,
        "left_on": left,
        "join_route": route or None,
        "leave_reason": tidy(row.get("leave_reason", "")) or None,
        "skills": skills,
        "location": tidy(row.get("location", "")) or None,
        "locale": locale or None,
        "timezone": tz or None,
    }
    return values, errors


async def import_people(
    session: AsyncSession, data: bytes, now: datetime, progress: Progress | None = None
) -> ImportResult:
    # Every column but the optional reading: a missing column would blank that field for
    # everyone on re-import. Without a name_kana column, existing readings are kept.
    rows = read_rows(data, PEOPLE_COLUMNS, [c for c in PEOPLE_COLUMNS if c not in OPTIONAL_COLUMNS])
    header = data.split(b"\n", 1)[0]
    absent = [c for c in OPTIONAL_COLUMNS if c.encode() not in header]
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    parsed: list[tuple[int, dict[str, Any], dict[str, str]]] = []
    for line, row in rows:
        values, problems = validate_person(row)
        for column in absent:
            del values[column]
        email = values["email"]
        if email in seen:
            problems.append(f"email {email} already appears on line {seen[email]}")
        seen.setdefault(email, line)
        ids = {name: row.get(column, "") for name, column in ID_COLUMNS.items()}
        errors += [RowError(line, p) for p in problems]
        parsed.append((line, values, ids))
    existing = {(p.email or "").lower(): p for p in await _people_by_email(session, list(seen))}
    identity_keys = [(ch, uid) for _, _, ids in parsed for ch, uid in ids.items() if uid]
    identities = await _identities(session, identity_keys)
    for line, values, ids in parsed:
        person = existing.get(values["email"])
        for channel, uid in ids.items():
            owner = identities.get((channel, uid))
            if uid and owner is not None and owner.person_id not in (None, person and person.id):
                errors.append(RowError(line, f"{channel} user {uid} belongs to someone else"))
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.line))

    result = ImportResult()
    readdressed: list[int] = []  # a new address: a bounce from the old one no longer holds
    for done, (_line, values, ids) in enumerate(parsed, start=1):
        person = existing.get(values["email"])
        if person is None:
            person = Person(**values, created_at=now, updated_at=now, desired_roles=[], opt_outs=[])
            session.add(person)
            result.created += 1
        elif any(getattr(person, k) != v for k, v in values.items()):
            if person.left_on is None and values["left_on"] is not None:
                result.newly_left.append(person.id)  # the offboarding hand-over starts
            before = mail.address_of(person)
            for key, value in values.items():
                setattr(person, key, value)
            person.updated_at = now
            result.updated += 1
            if mail.address_of(person) != before:
                readdressed.append(person.id)
        else:
            result.unchanged += 1
        await session.flush()
        for channel, uid in ids.items():
            if uid and (channel, uid) not in identities:
                identity = Identity(
                    person_id=person.id,
                    channel=channel,
                    workspace="",
                    user_id=uid,
                    chat_id=uid if platform(channel).user_is_chat else None,
                    created_at=now,
                )
                session.add(identity)
                identities[(channel, uid)] = identity
        if progress:
            progress(done)
    await mail.forget_bounces(session, readdressed)
    return result


async def _people_by_email(session: AsyncSession, emails: list[str]) -> list[Person]:
    found: list[Person] = []
    for start in range(0, len(emails), CHUNK):
        query = select(Person).where(func.lower(Person.email).in_(emails[start : start + CHUNK]))
        found += list(await session.scalars(query))
    return found


async def _identities(
    session: AsyncSession, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], Identity]:
    found: dict[tuple[str, str], Identity] = {}
    for channel in ID_COLUMNS:
        uids = [uid for ch, uid in keys if ch == channel]
        for start in range(0, len(uids), CHUNK):
            query = select(Identity).where(
                Identity.channel == channel, Identity.user_id.in_(uids[start : start + CHUNK])
            )
            for identity in await session.scalars(query):
                found[(channel, identity.user_id)] = identity
    return found


async def import_relations(
    session: AsyncSession, data: bytes, now: datetime, progress: Progress | None = None
) -> ImportResult:
    rows = read_rows(data, RELATION_COLUMNS, RELATION_COLUMNS)
    emails = {r[k].lower() for _, r in rows for k in ("email", "other_email")}
    people = {(p.email or "").lower(): p.id for p in await _people_by_email(session, list(emails))}
    errors: list[RowError] = []
    wanted: dict[tuple[int, int, str], int] = {}
    for line, row in rows:
        a, b, kind = row["email"].lower(), row["other_email"].lower(), row["kind"]
        problems = [
            f"nobody with email {e!r} (import people first)" for e in (a, b) if e not in people
        ]
        if kind not in ("colleague", "manager"):
            problems.append(f"kind {kind!r} must be colleague or manager")
        if a == b:
            problems.append("a person cannot be related to themselves")
        errors += [RowError(line, p) for p in problems]
        if not problems:
            wanted.setdefault((people[a], people[b], kind), line)
    if errors:
        raise ImportFailed(errors)
    ids = list({pid for key in wanted for pid in key[:2]})
    have: set[tuple[int, int, str]] = set()
    for start in range(0, len(ids), CHUNK):
        query = select(Relation).where(Relation.person_id.in_(ids[start : start + CHUNK]))
        have |= {(r.person_id, r.other_id, r.kind) for r in await session.scalars(query)}
    result = ImportResult()
    for done, key in enumerate(wanted, start=1):
        if key in have:
            result.unchanged += 1
        else:
            session.add(Relation(person_id=key[0], other_id=key[1], kind=key[2]))
            result.created += 1
        if progress:
            progress(done)
    await session.flush()
    return result
