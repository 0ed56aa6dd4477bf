"""The alumni open to a comeback, as one `bot.core.matching.ProfileIndex` a process keeps up to
date instead of reading every profile and rebuilding it for each posting (docs/adr/0005).

Built once from `storage.jobs.candidates`; then every posting re-reads only the people changed
since the last look: `people.updated_at` (indexed) at or after the newest change seen, less a
margin for another process's lagging clock or a transaction that committed late, or an id above
the highest seen. Every change to what matching reads (skills, desired roles, department,
location, comeback, consent, opt-outs, leaving, forgetting) sets `updated_at`; so does each path
that writes a person (handlers/profile.py, onboarding, privacy, the importers, the bridge).
The index is rebuilt when time went back (a restored database, another clock) and compacted once
replaced entries outnumber the live ones."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.matching import ProfileIndex
from storage.jobs import candidates, profile_columns, profile_of
from storage.models import Person

CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class _Kept:
    index: ProfileIndex | None = None
    since: datetime | None = None  # the newest `updated_at` read
    last_id: int | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_kept: weakref.WeakKeyDictionary[Engine, _Kept] = weakref.WeakKeyDictionary()


async def _version(session: AsyncSession) -> tuple[datetime | None, int | None]:
    """The newest change and the highest id: two index look-ups (in one SELECT, SQLite would
    scan the table for both)."""
    newest = select(func.max(Person.updated_at)).scalar_subquery()
    highest = select(func.max(Person.id)).scalar_subquery()
    row = (await session.execute(select(newest, highest))).one()
    return row[0], row[1]


async def _build(session: AsyncSession, kept: _Kept) -> ProfileIndex:
    kept.since, kept.last_id = await _version(session)
    profiles = await candidates(session)
    # Built in a thread: a cold build at 100,000 people takes a second or more of CPU, and the
    # event loop must go on acknowledging requests meanwhile.
    kept.index = await asyncio.to_thread(ProfileIndex, profiles)
    return kept.index


async def profile_index(session: AsyncSession) -> ProfileIndex:
    """This process's index for the session's database, brought up to date in `session`.

    Read it only in a transaction that has not itself changed people: an uncommitted change
    read into the index would outlive a rollback."""
    kept = _kept.setdefault(session.get_bind().engine, _Kept())
    async with kept.lock:  # one refresh at a time: an older read never overwrites a newer one
        if kept.index is None:
            return await _build(session, kept)
        now_at, now_id = await _version(session)
        if (
            kept.since is None
            or kept.last_id is None
            or now_at is None
            or now_id is None
            or now_at < kept.since
            or now_id < kept.last_id
        ):
            return await _build(session, kept)
        changed = await session.execute(
            select(*profile_columns()).where(
                or_(Person.updated_at >= kept.since - CLOCK_SKEW, Person.id > kept.last_id)
            )
        )
        index = kept.index
        for row in changed:
            found = profile_of(row)
            if found is None:
                index.drop(row.id)
            else:
                index.put(found)
        kept.index, kept.since, kept.last_id = index.compacted(), now_at, now_id
        return kept.index
