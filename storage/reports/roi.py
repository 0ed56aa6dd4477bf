"""The ROI section (issue 22): what the outcomes ledger adds up to, and what led to each outcome.

Outcomes count when they happened in the range (`occurred_on`), were not withdrawn, and are
about someone in the segment; forgotten people's outcomes count too, anonymously (their
amounts stay in the totals, storage/privacy.py). Groups of fewer than `MIN_GROUP` people are
hidden, as in every section.

Attribution is a list of rules, each checked against what the bot already recorded, never a
score. An outcome of person P on day D is linked to:
- interest: an opening matched to P that P marked "interested", matched before D;
- referral: the referral the outcome came from (the pipeline's hire), or a referral of P
  made before D, with who referred;
- event: an event P attended in the 90 days up to D;
- intro: a "say hello" sent between P and a former manager or colleague in the year up to D;
- contacts: P's logged contacts in the year before D (shown as a number; "in touch" when any).
An outcome may have several links, or none.

"Value by contacts a year" buckets the segment's alumni as the consciousness section does (their
contacts in the range, scaled to a year; storage/reports/facts.py) and adds up the value of
their outcomes in the range: whether keeping in touch pays. "Active" alumni had a contact in
the range."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    AuditEntry,
    Event,
    Interaction,
    Match,
    Opening,
    Outcome,
    Person,
    Referral,
    Relation,
    Rsvp,
)
from storage.outcomes import KINDS
from storage.reports.facts import F, dialect_of
from storage.reports.filter import Filter
from storage.reports.sections import BUCKETS, MIN_GROUP, _bucket
from storage.segments import segment_clause

LINKS = ("interest", "referral", "event", "intro", "contacts", "none")
EVENT_DAYS = 90
YEAR_DAYS = 365
CHUNK = 1000


@dataclass(frozen=True)
class Group:
    label: str
    people: int
    outcomes: int | None  # None: hidden (fewer than MIN_GROUP people)
    value: int | None


def _group(label: str, people: set[int], rows: list[tuple[int, int]]) -> Group:
    if len(people) < MIN_GROUP:
        return Group(label, len(people), None, None)
    return Group(label, len(people), len(rows), sum(v for _, v in rows))


@dataclass
class Links:
    """One outcome and what led to it (admins only: it names people and their values)."""

    id: int
    day: date
    name: str
    kind: str
    value: int
    interest: list[str] = field(default_factory=list)  # "#3 Backend Engineer"
    referral: list[str] = field(default_factory=list)  # "R1 #3 by 佐藤 太郎" / "R1 #3"
    event: list[str] = field(default_factory=list)  # "Summer party 2026-07-01"
    intro: list[tuple[str, str]] = field(default_factory=list)  # (name, manager|colleague)
    contacts: int = 0

    def kinds(self) -> list[str]:
        found = [k for k in LINKS[:4] if getattr(self, k)]
        found += ["contacts"] if self.contacts else []
        return found or ["none"]


@dataclass(frozen=True)
class Bucket:
    label: str
    alumni: int
    with_outcome: int | None
    value: int | None
    per_alumnus: float | None


@dataclass(frozen=True)
class Roi:
    total: Group
    by_kind: list[Group]
    by_quarter: list[Group]
    by_link: list[Group]
    active: int
    per_100: float | None
    by_frequency: list[Bucket]
    hires: Group  # outcomes the referral pipeline's hires became
    ledger: list[Links]


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = sorted(set(ids))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


async def _outcomes(session: AsyncSession, f: Filter) -> list[tuple[Outcome, str]]:
    query = (
        select(Outcome, Person.name)
        .join(Person, Person.id == Outcome.person_id)
        .where(Outcome.withdrawn_at.is_(None))
        .where(Outcome.occurred_on >= f.start, Outcome.occurred_on <= f.end)
        .where(segment_clause(f.segment, dialect_of(session)))
        .order_by(Outcome.occurred_on, Outcome.id)
    )
    return [(o, name) for o, name in (await session.execute(query)).all()]


async def attribute(
    session: AsyncSession, found: list[tuple[Outcome, str]], f: Filter
) -> list[Links]:
    """Every outcome with its links, by the rules of this module's docstring."""
    out = [Links(o.id, o.occurred_on, name, o.kind, o.value_yen) for o, name in found]
    if not out:
        return out
    by_person: dict[int, list[tuple[Outcome, Links]]] = defaultdict(list)
    for (o, _), links in zip(found, out, strict=True):
        by_person[o.person_id].append((o, links))
    pids = list(by_person)

    def before(moment: datetime, day: date) -> bool:
        return moment.astimezone(f.zone).date() <= day

    for chunk in _chunks(pids):
        matches = await session.execute(
            select(Match.person_id, Match.created_at, Opening.id, Opening.title)
            .join(Opening, Opening.id == Match.opening_id)
            .where(Match.person_id.in_(chunk), Match.response == "interested")
        )
        for pid, at, oid, title in matches:
            for _, links in by_person[pid]:
                if before(at, links.day):
                    links.interest.append(f"#{oid} {title}")

    referral_ids = {o.referral_id for o, _ in found if o.referral_id}
    referrer = Person.__table__.alias("referrer")
    query = (
        select(Referral.id, Referral.opening_id, Referral.candidate_person_id, Referral.created_at,
               Referral.kind, referrer.c.name)
        .outerjoin(referrer, referrer.c.id == Referral.referrer_id)
    )  # fmt: skip
    conds = [Referral.candidate_person_id.in_(c) for c in _chunks(pids)]
    conds += [Referral.id.in_(c) for c in _chunks(referral_ids)]
    for rid, opening, candidate, at, kind, by in await session.execute(query.where(or_(*conds))):
        label = f"R{rid} #{opening}" + (f" · {by}" if kind != "interest" and by else "")
        for o, links in (x for group in by_person.values() for x in group):
            if o.referral_id == rid or (candidate == o.person_id and before(at, links.day)):
                if label not in links.referral:
                    links.referral.append(label)

    for chunk in _chunks(pids):
        rsvps = await session.execute(
            select(Rsvp.person_id, Event.title, Event.starts_at)
            .join(Event, Event.id == Rsvp.event_id)
            .where(Rsvp.person_id.in_(chunk), Rsvp.attended.is_(True))
        )
        for pid, title, starts in rsvps:
            held = starts.astimezone(f.zone).date()
            for _, links in by_person[pid]:
                if links.day - timedelta(days=EVENT_DAYS) <= held <= links.day:
                    links.event.append(f"{title} {held.isoformat()}")

    await _intros(session, by_person, f)
    await _contacts(session, by_person)
    return out


async def _intros(
    session: AsyncSession, by_person: dict[int, list[tuple[Outcome, Links]]], f: Filter
) -> None:
    pids = list(by_person)
    related: dict[tuple[int, int], str] = {}
    for chunk in _chunks(pids):
        pairs = await session.execute(
            select(Relation.person_id, Relation.other_id, Relation.kind).where(
                or_(Relation.person_id.in_(chunk), Relation.other_id.in_(chunk))
            )
        )
        for a, b, kind in pairs:
            for me, other in ((a, b), (b, a)):
                if related.get((me, other)) != "manager":
                    related[(me, other)] = kind
    if not related:
        return
    names = dict((await session.execute(select(Person.id, Person.name).where(
        Person.id.in_({o for _, o in related})))).all())  # fmt: skip
    targets = sorted({f"person:{p}" for p in pids} | {f"person:{o}" for _, o in related})
    sent_rows: list[Any] = []
    for start in range(0, len(targets), CHUNK):
        sent_rows += await session.execute(
            select(AuditEntry.actor_id, AuditEntry.target, AuditEntry.at).where(
                AuditEntry.action == "intro", AuditEntry.allowed.is_(True),
                AuditEntry.target.in_(targets[start : start + CHUNK]),
            )
        )  # fmt: skip
    for actor, target, at in sent_rows:
        if actor is None:
            continue
        other = int(str(target).removeprefix("person:"))
        sent = at.astimezone(f.zone).date()
        for me, them in ((actor, other), (other, actor)):
            relation = related.get((me, them))
            if relation is None or me not in by_person:
                continue
            for _, links in by_person[me]:
                pair = (names.get(them, "—"), relation)
                if links.day - timedelta(days=YEAR_DAYS) <= sent <= links.day:
                    if pair not in links.intro:
                        links.intro.append(pair)


async def _contacts(
    session: AsyncSession, by_person: dict[int, list[tuple[Outcome, Links]]]
) -> None:
    first = min(links.day for group in by_person.values() for _, links in group)
    i = Interaction
    for chunk in _chunks(by_person):
        rows = await session.execute(
            select(i.person_a, i.person_b, i.occurred_on).where(
                or_(i.person_a.in_(chunk), i.person_b.in_(chunk)),
                i.occurred_on >= first - timedelta(days=YEAR_DAYS),
            )
        )
        for a, b, day in rows:
            for pid in (a, b):
                for _, links in by_person.get(pid, ()):
                    if links.day - timedelta(days=YEAR_DAYS) <= day < links.day:
                        links.contacts += 1


def _quarter(day: date) -> str:
    return f"{day.year} Q{(day.month - 1) // 3 + 1}"


async def roi(session: AsyncSession, f: Filter, individuals: bool) -> Roi:
    """The section's figures; call inside `storage.reports.facts.facts` (the per-alumnus table
    gives the active alumni and the contact buckets)."""
    found = await _outcomes(session, f)
    ledger = await attribute(session, found, f)
    rows = [(o.person_id, o.value_yen) for o, _ in found]

    def group(label: str, chosen: list[tuple[int, int]]) -> Group:
        return _group(label, {p for p, _ in chosen}, chosen)

    kinds = [group(k, [r for (o, _), r in zip(found, rows, strict=True) if o.kind == k])
             for k in KINDS]  # fmt: skip
    quarters = sorted({_quarter(o.occurred_on) for o, _ in found})
    by_quarter = [
        group(q, [r for (o, _), r in zip(found, rows, strict=True) if _quarter(o.occurred_on) == q])
        for q in quarters
    ]
    by_link = [
        group(k, [r for r, links in zip(rows, ledger, strict=True) if k in links.kinds()])
        for k in LINKS
    ]
    hires = group("hires", [r for (o, _), r in zip(found, rows, strict=True) if o.referral_id])

    contacts = (F.c_in + F.c_on + F.m_in + F.m_on + F.o_all).label("x")
    per_person = (
        select(Outcome.person_id.label("pid"), func.sum(Outcome.value_yen).label("v"))
        .where(Outcome.withdrawn_at.is_(None))
        .where(Outcome.occurred_on >= f.start, Outcome.occurred_on <= f.end)
        .group_by(Outcome.person_id)
        .subquery("per_person")
    )
    cells = await session.execute(
        select(contacts, func.count(), func.count(per_person.c.pid), func.sum(per_person.c.v))
        .outerjoin(per_person, per_person.c.pid == F.id)
        .group_by(contacts)
    )
    alumni, earners, value = [0] * len(BUCKETS), [0] * len(BUCKETS), [0] * len(BUCKETS)
    for x, n, m, v in cells:
        b = _bucket(int(x), f.per_year)
        alumni[b] += int(n)
        earners[b] += int(m)
        value[b] += int(v or 0)
    buckets = [
        Bucket(label, alumni[b], earners[b], value[b], value[b] / alumni[b])
        if alumni[b] >= MIN_GROUP
        else Bucket(label, alumni[b], None, None, None)
        for b, label in enumerate(BUCKETS)
    ]
    active = sum(alumni[1:])
    per_100 = 100.0 * len(found) / active if active >= MIN_GROUP else None
    total = group("all", rows)
    return Roi(total, kinds, by_quarter, by_link, active, per_100, buckets, hires,
               ledger if individuals else [])  # fmt: skip
