"""Broadcast segments, their recipients (streamed in chunks: a segment may be the whole
alumni network), queuing a broadcast into the outbox, and its delivery report."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Boolean,
    Integer,
    String,
    any_,
    case,
    cast,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.models import (
    Broadcast,
    BroadcastClick,
    Event,
    Identity,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Person,
)
from storage.segments import DELIVERABLE as DELIVERABLE
from storage.segments import KINDS, segment_clause
from storage.segments import BadSegment as BadSegment
from storage.segments import Segment as Segment
from storage.segments import fold as fold
from storage.segments import parse_segment as parse_segment
from storage.types import UTCDateTime

KIND = OutboxKind.BROADCAST
SEGMENT_KINDS = KINDS
CHUNK = 5000


async def check_segment(session: AsyncSession, segment: Segment) -> None:
    if segment.kind == "event" and await session.get(Event, int(segment.value)) is None:
        raise BadSegment("broadcasts.bad_event")


def _query(segment: Segment, after: int, limit: int, dialect: str) -> Any:
    """One keyset page of the segment's people (before the checks done in Python)."""
    query = (
        select(Person.id, Person.locale, Person.opt_outs, Person.skills)
        .where(
            Person.id > after,
            Person.forgotten_at.is_(None),
            Person.consent_at.is_not(None),
        )
        .order_by(Person.id)
        .limit(limit)
    )
    if segment.kind not in ("channel", "skill"):  # those two are checked per page, below
        query = query.where(segment_clause(segment, dialect))
    return query


async def _reachable(session: AsyncSession, segment: Segment, ids: list[int]) -> set[int]:
    """Which of these people have an identity a message can be delivered to. A query per page
    by person id (an EXISTS in the page query lets PostgreSQL scan every identity per page)."""
    channels = (segment.value,) if segment.kind == "channel" else DELIVERABLE
    found = await session.scalars(
        select(Identity.person_id)
        .where(
            Identity.person_id.in_(ids),
            Identity.reachable.is_(True),
            Identity.channel.in_(channels),
        )
        .distinct()
    )
    return {pid for pid in found if pid is not None}


async def _pages(
    session: AsyncSession, segment: Segment, chunk: int
) -> AsyncIterator[list[tuple[int, str | None]]]:
    """(person id, locale) of the segment's people, a keyset page at a time, with those opted
    out of broadcasts and (for a skill segment) without the skill left out — but not yet
    checked for a reachable identity."""
    after = 0
    skill = fold(segment.value) if segment.kind == "skill" else None
    while True:
        dialect = session.get_bind().dialect.name
        rows = (await session.execute(_query(segment, after, chunk, dialect))).all()
        if not rows:
            return
        after = rows[-1].id
        wanted = [
            (r.id, r.locale)
            for r in rows
            if "broadcasts" not in (r.opt_outs or [])
            and (skill is None or any(fold(s) == skill for s in r.skills or []))
        ]
        if wanted:
            yield wanted


async def recipients(
    session: AsyncSession, segment: Segment, *, chunk: int = CHUNK
) -> AsyncIterator[list[tuple[int, str | None]]]:
    """(person id, locale) of everyone the segment reaches, `chunk` people at a time (keyset
    pagination: never the whole segment in memory). Opted out of broadcasts, forgotten,
    not yet consented and unreachable people are left out; paused people are included (their
    messages wait in the outbox)."""
    async for wanted in _pages(session, segment, chunk):
        reachable = await _reachable(session, segment, [pid for pid, _ in wanted])
        found = [(pid, locale) for pid, locale in wanted if pid in reachable]
        if found:
            yield found


async def count(session: AsyncSession, segment: Segment) -> dict[str | None, int]:
    """How many people the segment reaches, by their chosen locale (None: not chosen)."""
    by_locale: dict[str | None, int] = {}
    async for chunk in recipients(session, segment):
        for _, locale in chunk:
            by_locale[locale] = by_locale.get(locale, 0) + 1
    return by_locale


def create(
    session: AsyncSession,
    *,
    author_id: int | None,
    text: str,
    segment: Segment,
    urgent: bool,
    now: datetime,
    buttons: list[str],
) -> Broadcast:
    broadcast = Broadcast(
        author_id=author_id,
        text=text,
        segment=str(segment),
        urgent=urgent,
        buttons=buttons,
        status="draft",
        recipients=0,
        created_at=now,
    )
    session.add(broadcast)
    return broadcast


async def enqueue(
    session: AsyncSession,
    broadcast: Broadcast,
    payloads: Mapping[str, dict[str, Any]],
    default_locale: str,
    now: datetime,
    *,
    batch: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Queue the broadcast for everyone in its segment, `batch` rows per statement, in the
    caller's transaction; returns how many messages it has in the outbox."""
    segment = parse_segment(broadcast.segment)
    done = 0
    async for chunk in _pages(session, segment, batch):
        ids = [pid for pid, _ in chunk]
        done += await _insert_page(session, broadcast, segment, ids, payloads, default_locale, now)
        if progress is not None:
            progress(done)
    queued = await session.scalar(
        select(func.count()).where(OutboxMessage.broadcast_id == broadcast.id)
    )
    broadcast.recipients = int(queued or 0)
    broadcast.status = "queued" if broadcast.recipients else "done"
    return broadcast.recipients


async def _insert_page(
    session: AsyncSession,
    broadcast: Broadcast,
    segment: Segment,
    ids: list[int],
    payloads: Mapping[str, dict[str, Any]],
    default_locale: str,
    now: datetime,
) -> int:
    """INSERT … SELECT from those of these people who can be reached: the database checks the
    identities and builds the rows (key, payload in the person's language), so a page costs
    one statement — on PostgreSQL with the ids as one array parameter, not a thousand. Returns
    how many messages it queued (none for people already queued)."""
    channels = (segment.value,) if segment.kind == "channel" else DELIVERABLE
    if session.get_bind().dialect.name == "postgresql":
        array = cast(literal(ids, ARRAY(Integer)), ARRAY(Integer))
        page, theirs = Person.id == any_(array), Identity.person_id == any_(array)
    else:
        page, theirs = Person.id.in_(ids), Identity.person_id.in_(ids)
    reachable = exists().where(  # the page's ids on both sides: else PostgreSQL hashes every
        Identity.person_id == Person.id,  # identity for each page
        theirs,
        Identity.reachable.is_(True),
        Identity.channel.in_(channels),
    )
    payload = case(
        *(
            (Person.locale == loc, literal(body, JSON))
            for loc, body in payloads.items()
            if loc != default_locale
        ),
        else_=literal(payloads[default_locale], JSON),
    )
    rows = select(
        literal(f"broadcast:{broadcast.id}:", String) + cast(Person.id, String),
        Person.id,
        payload,
        literal(KIND, String),
        literal(broadcast.urgent, Boolean),
        literal(broadcast.id, Integer),
        literal("queued", String),
        literal(0, Integer),
        literal(now, UTCDateTime()),
        literal(now, UTCDateTime()),
    ).where(page, reachable)
    columns = [
        "idempotency_key", "person_id", "payload", "kind", "urgent", "broadcast_id", "state",
        "attempts", "not_before", "created_at",
    ]  # fmt: skip
    result = await session.execute(
        outbox.insert_ignore(session, OutboxMessage.__table__).from_select(columns, rows)
    )
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


@dataclass
class Report:
    broadcast: Broadcast
    delivered: int = 0
    failed: int = 0
    unreachable: int = 0
    waiting: int = 0
    clicks: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.waiting == 0


async def report(session: AsyncSession, broadcast: Broadcast) -> Report:
    result = Report(broadcast)
    rows = await session.execute(
        select(
            OutboxMessage.state,
            OutboxMessage.last_error.like("unreachable%").label("unreachable"),
            func.count(),
        )
        .where(OutboxMessage.broadcast_id == broadcast.id)
        .group_by(OutboxMessage.state, "unreachable")
    )
    for state, unreachable, n in rows.all():
        if state == OutboxState.SENT:
            result.delivered += n
        elif state == OutboxState.DEAD and unreachable:
            result.unreachable += n
        elif state == OutboxState.DEAD:
            result.failed += n
        else:
            result.waiting += n
    clicks = await session.execute(
        select(BroadcastClick.action, func.count())
        .where(BroadcastClick.broadcast_id == broadcast.id)
        .group_by(BroadcastClick.action)
    )
    result.clicks = {action: n for action, n in clicks.all()}
    return result


async def latest(session: AsyncSession) -> Broadcast | None:
    query = select(Broadcast).where(Broadcast.status != "draft").order_by(Broadcast.id.desc())
    return (await session.scalars(query.limit(1))).first()


async def listing(session: AsyncSession, *, offset: int, limit: int) -> list[Broadcast]:
    """Broadcasts newest first, drafts too, a page at a time (the console's list)."""
    query = select(Broadcast).order_by(Broadcast.id.desc()).offset(offset).limit(limit)
    return list(await session.scalars(query))


async def mark_done(session: AsyncSession, broadcast_id: int) -> bool:
    """queued → done once nothing waits; True for the one caller that made the change."""
    waiting = exists().where(
        OutboxMessage.broadcast_id == broadcast_id,
        OutboxMessage.state.in_((OutboxState.QUEUED, OutboxState.SENDING, OutboxState.FAILED)),
    )
    result = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == "queued", ~waiting)
        .values(status="done")
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)


async def click(
    session: AsyncSession, broadcast_id: int, person_id: int, action: str, now: datetime
) -> bool:
    """Count a button press once per person and action; False when already counted."""
    result = await session.execute(
        outbox.insert_ignore(session, BroadcastClick.__table__).values(
            broadcast_id=broadcast_id, person_id=person_id, action=action, clicked_at=now
        )
    )
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)
