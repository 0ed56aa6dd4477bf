"""Bulk import of people and relations (docs/contracts.md CSV formats), all or nothing.

Every row is validated before anything is written; any bad row means nothing is imported and
every bad row is reported with its line number. Re-importing updates people by email."""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Catalogs, Translator
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
Say = Callable[..., str]  # a Translator: key, params -> words
CHUNK = 1000  # ids per IN (…): well under SQLite's and PostgreSQL's bind-parameter limits


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with a row: a catalog key (imports.po, or the feature's own) and its
    parameters, said in the reader's language (`text`); nothing here is already in words."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)

    def text(self, t: Say) -> str:
        return t(self.key, **self.params)


def problem(key: str, **params: object) -> RowProblem:
    return RowProblem(key, params)


@functools.cache
def _english() -> Translator:  # the command line's words, and `str()` of an error
    return Catalogs.load().translator("en")


@dataclass
class RowError:
    line: int
    problems: tuple[RowProblem, ...]

    def said(self, t: Say) -> str:
        """The row's problems in `t`'s language (a console viewer's, the CLI's English)."""
        return t("imports.separator").join(p.text(t) for p in self.problems)

    @property
    def message(self) -> str:  # in English, as the command line prints it
        return self.said(_english())

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

    @property
    def number(self) -> int:  # the row's line number in the file, under a platform-free name
        return self.line


def row_error(number: int, key: str, **params: object) -> RowError:
    return RowError(number, (RowProblem(key, params),))


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
        raise ImportFailed([row_error(line, "imports.not_utf8")]) from None
    reader = csv.DictReader(io.StringIO(content, newline=""), strict=True)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error:
        raise ImportFailed([row_error(1, "imports.unclosed")]) from None
    if not header:
        raise ImportFailed([row_error(1, "imports.empty_file")])
    reader.fieldnames = header
    problems = [problem("imports.missing_column", column=c) for c in required if c not in header]
    problems += [problem("imports.unknown_column", column=c) for c in header if c not in columns]
    problems += [
        problem("imports.column_twice", column=c)
        for c in dict.fromkeys(header)
        if header.count(c) > 1
    ]
    if problems:
        raise ImportFailed([RowError(1, tuple(problems))])
    rows = []
    start = 2
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            raise ImportFailed([row_error(start, "imports.unclosed")]) from None
        spans = [
            k for k, v in row.items() if isinstance(v, str) and "\n" in v and k not in MULTILINE
        ]
        if spans:  # a quote left open swallows the rows after it
            raise ImportFailed([row_error(start, "imports.spans_rows", column=spans[0])])
        if None in row:  # more cells than columns
            raise ImportFailed([row_error(reader.line_num, "imports.too_many_cells")])
        start = reader.line_num + 1
        broken = [k for k, v in row.items() if isinstance(v, str) and CONTROL.search(v)]
        if broken:  # a NUL or other control character: PostgreSQL refuses it, nobody can see it
            bad = row_error(reader.line_num, "imports.control_character", column=broken[0])
            raise ImportFailed([bad])
        cleaned = {k: (v or "").strip() for k, v in row.items()}
        if any(cleaned.values()):
            rows.append((reader.line_num, cleaned))
    return rows


def _date(value: str, name: str, errors: list[RowProblem]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(problem("imports.bad_date", column=name, value=value))
        return None


def validate_person(row: dict[str, str]) -> tuple[dict[str, Any], list[RowProblem]]:
    errors: list[RowProblem] = []
    email = row.get("email", "").lower()
    if not EMAIL.match(email) or len(email) > 320:
        errors.append(problem("imports.bad_email", column="email", value=row.get("email", "")))
    private = row.get("private_email", "").lower()
    if private and (not EMAIL.match(private) or len(private) > 320):
        value = row.get("private_email", "")
        errors.append(problem("imports.bad_email", column="private_email", value=value))
    if not row.get("name"):
        errors.append(problem("imports.empty", column="name"))
    joined = _date(row.get("joined_on", ""), "joined_on", errors)
    left = _date(row.get("left_on", ""), "left_on", errors)
    if joined and left and left < joined:
        errors.append(problem("imports.left_before_joined"))
    route = row.get("join_route", "")
    if route and route not in {r.value for r in JoinRoute}:
        errors.append(problem("imports.bad_join_route", value=route))
    locale = row.get("locale", "")
    if locale and locale not in ("ja", "en"):
        errors.append(problem("imports.bad_locale", value=locale))
    tz = row.get("timezone", "")
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(problem("imports.bad_timezone", value=tz))
    for p in PLATFORMS:
        uid = row.get(p.id_column, "") if p.id_column else ""
        if p.numeric_ids and uid and not uid.isdigit():
            errors.append(problem("imports.not_a_number", column=p.id_column, value=uid))
        if len(uid) > 128:
            errors.append(problem("imports.too_long", column=p.id_column, limit=128))
    for name in ("name", "name_kana", "department", "title", "leave_reason", "location"):
        if len(row.get(name, "")) > 200:
            errors.append(problem("imports.too_long", column=name, limit=200))
    skills = distinct_items(row.get("skills", "").split(";"))
    if len(skills) > 50:
        errors.append(problem("imports.too_many_skills", limit=50))
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
            problems.append(problem("imports.email_repeated", email=email, first=seen[email]))
        seen.setdefault(email, line)
        ids = {name: row.get(column, "") for name, column in ID_COLUMNS.items()}
        errors += [RowError(line, (p,)) for p in problems]
        parsed.append((line, values, ids))
    existing = {(p.email or "").lower(): p for p in await _people_by_email(session, list(seen))}
    identity_keys = [(ch, uid) for _, _, ids in parsed for ch, uid in ids.items() if uid]
    identities = await _identities(session, identity_keys)
    for line, values, ids in parsed:
        person = existing.get(values["email"])
        for channel, uid in ids.items():
            owner = identities.get((channel, uid))
            if uid and owner is not None and owner.person_id not in (None, person and person.id):
                errors.append(row_error(line, "imports.identity_taken", channel=channel, uid=uid))
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
        problems = [problem("imports.unknown_email", email=e) for e in (a, b) if e not in people]
        if kind not in ("colleague", "manager"):
            problems.append(problem("imports.bad_relation_kind", value=kind))
        if a == b:
            problems.append(problem("imports.self_relation"))
        errors += [RowError(line, (p,)) for p in problems]
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
