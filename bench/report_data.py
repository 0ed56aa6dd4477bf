"""A large alumni network for the report benchmark, bulk-loaded fast.

    python bench/report_data.py DATABASE_URL [--people 100000] [--interactions 1000000]

Into an upgraded, empty database: `--people` people (four in five alumni, the rest current
employees), each alumnus with a former manager and three former colleagues among the
employees, `--interactions` contacts spread over two years (about three per relation, unique
per pair, day and kind), pulse-survey answers from two alumni in three, a few openings,
referrals, events with RSVPs, perk claims and a broadcast. Deterministic (seeded).

PostgreSQL is loaded with COPY (asyncpg's copy_records_to_table), SQLite with executemany
in one transaction; both are ANALYZEd afterwards, as a database in use would be."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

DEPARTMENTS = ["営業", "エンジニアリング", "マーケティング", "人事", "経理", "カスタマーサクセス",
               "デザイン", "プロダクト"]  # fmt: skip
TITLES = ["メンバー", "リーダー", "マネージャー", "部長"]
REASONS = ["転職", "起業", "留学", "家庭の事情", "キャリアアップ", "relocation", "転居"]
SKILLS = ["Python", "SQL", "営業", "Figma", "会計", "採用", "AWS", "データ分析"]
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
TODAY = NOW.date()


def build(people: int, interactions: int, seed: int = 20261124) -> dict[str, list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    naive_now = NOW.replace(tzinfo=None)
    employees = max(people // 5, 10)
    rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in
                                              ("people", "relations", "interactions", "surveys")}  # fmt: skip  # noqa: E501
    for pid in range(1, people + 1):
        alumnus = pid > employees
        joined = date(2000, 4, 1) + timedelta(days=rng.randint(0, 8000))
        left = joined + timedelta(days=rng.randint(200, 4000)) if alumnus else None
        if left is not None and left > TODAY:
            left = TODAY - timedelta(days=rng.randint(1, 700))
            joined = min(joined, left - timedelta(days=200))
        rows["people"].append((
            pid, f"p{pid}@example.com", f"社員 {pid}", rng.choice(DEPARTMENTS), rng.choice(TITLES),
            joined, left, rng.choice(("new_grad", "mid_career")), rng.choice(REASONS) if alumnus
            else None, json.dumps(rng.sample(SKILLS, 2)), "[]",
            rng.choice(("unknown", "open", "maybe", "not_now")), False, "[]", "monthly",
            naive_now, naive_now, naive_now,
        ))  # fmt: skip
    pairs: set[tuple[int, int]] = set()
    for pid in range(employees + 1, people + 1):
        boss = rng.randint(1, employees)
        rows["relations"].append((pid, boss, "manager"))
        pairs.add((min(pid, boss), max(pid, boss)))
        for other in rng.sample(range(1, employees + 1), 3):
            if other != boss:
                rows["relations"].append((pid, other, "colleague"))
                pairs.add((min(pid, other), max(pid, other)))
    ordered = sorted(pairs)
    rng.shuffle(ordered)
    # Contact i goes to pair i % n in the (i // n)-th block of days: never twice on a day.
    blocks = -(-interactions // len(ordered))
    span = max(730 // blocks, 1)
    for i in range(interactions):
        a, b = ordered[i % len(ordered)]
        day = TODAY - timedelta(days=(i // len(ordered)) * span + rng.randrange(span))
        kind = "in_person" if rng.random() < 0.4 else "online"
        rows["interactions"].append((a, b, kind, day, "log", naive_now))
    for pid in range(employees + 1, people + 1):
        if rng.random() < 0.67:
            for period, answered in (
                ("2026H1", datetime(2026, 5, 1)),
                ("2026H2", datetime(2026, 10, 1)),
            ):
                s = [rng.randint(1, 5) for _ in range(3)]
                rows["surveys"].append((pid, period, *s, answered))
    return rows


COLUMNS = {
    "people": ("id", "email", "name", "department", "title", "joined_on", "left_on", "join_route",
               "leave_reason", "skills", "desired_roles", "comeback", "paused", "opt_outs",
               "checkin_cadence", "consent_at", "created_at", "updated_at"),
    "relations": ("person_id", "other_id", "kind"),
    "interactions": ("person_a", "person_b", "kind", "occurred_on", "source", "created_at"),
    "survey_responses": ("person_id", "period", "rejoin", "keep_in_touch", "recommend",
                         "answered_at"),
}  # fmt: skip
TABLE = {"people": "people", "relations": "relations", "interactions": "interactions",
         "surveys": "survey_responses"}  # fmt: skip


def _extras(people: int) -> list[str]:
    """Openings, referrals, events, RSVPs, perks, claims and a broadcast: small tables, SQL."""
    t = "'2026-06-01 00:00:00'"
    sql = [
        f"INSERT INTO openings (id, title, description, skills, nice_to_have, remote, status, created_at) VALUES (1, '営業', '', '[]', '[]', false, 'open', {t})",  # noqa: E501
        f"INSERT INTO perks (id, title, description, eligibility, created_at) VALUES (1, '割引', '', 'all', {t})",  # noqa: E501
        f"INSERT INTO events (id, uid, sequence, title, description, starts_at, ends_at, timezone, segment, status, created_at, updated_at) VALUES (1, 'e1', 0, '交流会', '', '2026-10-01 09:00:00', '2026-10-01 11:00:00', 'Asia/Tokyo', 'all', 'scheduled', {t}, {t})",  # noqa: E501
        f"INSERT INTO broadcasts (id, text, segment, urgent, buttons, status, recipients, created_at) VALUES (1, 'hi', 'all', false, '[]', 'done', 0, {t})",  # noqa: E501
    ]  # fmt: skip
    statuses = ["submitted", "screening", "interview", "offer", "hired", "declined"]
    for i in range(1, 501):
        pid = people - i
        sql.append(
            f"INSERT INTO referrals (opening_id, kind, referrer_id, candidate_name, candidate_key, status, created_at, updated_at) VALUES (1, '{'interest' if i % 3 else 'referral'}', {pid}, 'c{i}', 'k{i}', '{statuses[i % 6]}', {t}, {t})"  # noqa: E501
        )  # fmt: skip
    for i in range(1, 301):
        sql.append(f"INSERT INTO rsvps (event_id, person_id, status, attended, updated_at) VALUES (1, {people - i}, 'going', {'true' if i % 2 else 'false'}, {t})")  # fmt: skip  # noqa: E501
        sql.append(f"INSERT INTO perk_claims (perk_id, person_id, claimed_at) VALUES (1, {people - i}, {t})")  # fmt: skip  # noqa: E501
    for i in range(1, 2001):
        sql.append(f"INSERT INTO outbox (idempotency_key, person_id, payload, kind, urgent, broadcast_id, state, attempts, not_before, created_at) VALUES ('b{i}', {people - i}, '{{}}', 'broadcast', false, 1, '{'sent' if i % 10 else 'dead'}', 1, {t}, {t})")  # fmt: skip  # noqa: E501
    return sql


async def load(url: str, rows: dict[str, list[tuple[Any, ...]]], people: int) -> None:
    if url.startswith("sqlite"):
        await asyncio.to_thread(_load_sqlite, url.split("///", 1)[1], rows, people)
    else:
        await _load_postgres(url, rows, people)


def _load_sqlite(path: str, rows: dict[str, list[tuple[Any, ...]]], people: int) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        with conn:
            for key, data in rows.items():
                table = TABLE[key]
                cols = COLUMNS[table]
                marks = ", ".join("?" * len(cols))
                conn.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                    (_sqlite_row(r) for r in data),
                )
            for statement in _extras(people):
                conn.execute(statement.replace("false", "0").replace("true", "1"))
        conn.execute("ANALYZE")
    finally:
        conn.close()


def _sqlite_row(row: Sequence[Any]) -> tuple[Any, ...]:
    out = []
    for v in row:
        if isinstance(v, datetime):
            out.append(v.strftime("%Y-%m-%d %H:%M:%S.%f"))
        elif isinstance(v, date):
            out.append(v.isoformat())
        else:
            out.append(v)
    return tuple(out)


async def _load_postgres(url: str, rows: dict[str, list[tuple[Any, ...]]], people: int) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with conn.transaction():
            for key, data in rows.items():
                table = TABLE[key]
                await conn.copy_records_to_table(table, records=data, columns=COLUMNS[table])
            for statement in _extras(people):
                await conn.execute(statement)
            for table in ("people", "relations", "interactions", "survey_responses", "referrals",
                          "rsvps", "perk_claims", "outbox", "openings", "events", "perks",
                          "broadcasts"):  # fmt: skip
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def generate(url: str, people: int, interactions: int) -> tuple[float, float]:
    """(seconds to build the rows in Python, seconds to bulk-load them)."""
    started = time.perf_counter()
    rows = build(people, interactions)
    built = time.perf_counter()
    await load(url, rows, people)
    return built - started, time.perf_counter() - built


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url", help="an upgraded, empty database")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    args = parser.parse_args()
    build_s, load_s = asyncio.run(generate(args.database_url, args.people, args.interactions))
    print(f"generated {args.people:,} people and {args.interactions:,} interactions: "
          f"rows built in {build_s:.1f} s, bulk-loaded in {load_s:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
