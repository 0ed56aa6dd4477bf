"""Many joined people at once, inserted in bulk (delivery and broadcast tests, benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from storage.db import Database
from storage.models import Identity, Person


async def add_people(
    db: Database,
    count: int,
    now: datetime,
    *,
    channel: str = "telegram",
    prefix: str = "u",
    chunk: int = 2000,
    **fields: Any,
) -> list[int]:
    """`count` consenting people, each with one identity on `channel` (user id and chat id
    `{prefix}{n}`); `fields` are Person columns (a callable gets n and returns the value)."""
    ids: list[int] = []
    for start in range(0, count, chunk):
        numbers = range(start, min(start + chunk, count))
        async with db.transaction() as session:
            rows = [
                {
                    "email": f"{prefix}{n}@example.com",
                    "name": f"Person {prefix}{n}",
                    "left_on": None,
                    "skills": [],
                    "desired_roles": [],
                    "opt_outs": [],
                    "consent_at": now,
                    "locale": "en",
                    "timezone": "Asia/Tokyo",  # noon at the FixedClock's default time
                    "created_at": now,
                    "updated_at": now,
                    **{k: (v(n) if callable(v) else v) for k, v in fields.items()},
                }
                for n in numbers
            ]
            await session.execute(insert(Person), rows)
            emails = [r["email"] for r in rows]
            found = await session.execute(
                select(Person.id, Person.email).where(Person.email.in_(emails))
            )
            by_email = {email: pid for pid, email in found.all()}
            new = [by_email[e] for e in emails]
            await session.execute(
                insert(Identity),
                [
                    {
                        "person_id": pid,
                        "channel": channel,
                        "workspace": "",
                        "user_id": f"{prefix}{n}",
                        "chat_id": f"{prefix}{n}",
                        "priority": 0,
                        "reachable": True,
                        "created_at": now,
                    }
                    for pid, n in zip(new, numbers, strict=True)
                ],
            )
            ids += new
    return ids


async def add_identity(
    db: Database, person_id: int, channel: str, user_id: str, now: datetime, priority: int
) -> None:
    async with db.transaction() as session:
        session.add(
            Identity(
                person_id=person_id,
                channel=channel,
                workspace="T1" if channel == "slack" else "",
                user_id=user_id,
                chat_id=None,
                priority=priority,
                reachable=True,
                created_at=now,
            )
        )


def keys(ids: Sequence[int], tag: str) -> list[tuple[int, str]]:
    return [(pid, f"{tag}:{pid}") for pid in ids]
