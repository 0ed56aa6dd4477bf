"""`log NAME`'s lookup among 100,000 people: median and p99, against a full fuzzy scan.

Target (issue 6): under 50 ms median. The caller has no relations, so every query goes to the
whole directory (the slow path). Baseline in the same process: rapidfuzz `extractOne` with WRatio
over every folded name — what one query costs without the bigram index.

    python bench/name_lookup.py [--people 100000] [--queries 200] [--database-url …]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from rapidfuzz import fuzz, process
from sqlalchemy import insert, text, update

from bench.fresh_db import fresh_database
from bot.core.normalize import fold
from storage import names
from storage.db import Database
from storage.demo import GIVEN, SURNAMES
from storage.models import Person

NOW = datetime(2026, 11, 24, tzinfo=UTC)
KANJI = "美咲健一陽菜大輔彩拓也結衣直樹亮真由隆恵蓮葵翔太花子和希優奈智子雄大"


def directory(count: int, rng: random.Random) -> list[dict[str, object]]:
    people = []
    for pid in range(1, count + 1):
        surname, surname_kana, _ = rng.choice(SURNAMES)
        if rng.random() < 0.5:
            given, given_kana, _ = rng.choice(GIVEN)
            kana: str | None = f"{surname_kana} {given_kana}"
        else:
            given, kana = "".join(rng.sample(KANJI, 2)), None
        people.append(
            {"id": pid, "name": f"{surname} {given}", "name_kana": kana,
             "email": f"p{pid}@example.com", "created_at": NOW,
             "updated_at": NOW - timedelta(seconds=pid)}  # as edits over time leave them
        )  # fmt: skip
    return people


def queries(people: list[dict[str, object]], count: int, rng: random.Random) -> list[str]:
    out = []
    for person in rng.sample(people, count):
        name, kana = str(person["name"]), person["name_kana"]
        surname, given = name.split(" ")
        out.append(
            rng.choice(
                [
                    surname,  # common: many matches to choose from
                    name.replace(" ", ""),
                    str(kana) if kana else given,
                    name.replace("高", "髙").replace("崎", "﨑"),
                    name[:-1],  # a typo / a name cut short
                ]
            )
        )
    return out


async def main(count: int, n_queries: int, server: str) -> None:
    rng = random.Random(11)
    people = directory(count, rng)
    async with fresh_database(server) as url:
        db = Database.connect(url)
        async with db.transaction() as session:
            for start in range(0, count, 5000):
                await session.execute(insert(Person), people[start : start + 5000])
        if not db.is_sqlite:
            async with db.engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        asked = queries(people, n_queries, rng)
        caller = count + 1  # nobody: no relations, the whole directory is searched
        async with db.transaction() as session:
            started = time.perf_counter()
            await names.lookup(session, "佐藤", caller)
            build = time.perf_counter() - started
            samples = []
            for query in asked:
                started = time.perf_counter()
                await names.lookup(session, query, caller)
                samples.append(time.perf_counter() - started)
        # Someone is renamed (as an import or a profile edit does): the next lookup catches up.
        async with db.transaction() as session:
            await session.execute(
                update(Person)
                .where(Person.id == 1)
                .values(name="改名 太郎", name_kana=None, updated_at=NOW + timedelta(seconds=1))
            )
        async with db.transaction() as session:
            started = time.perf_counter()
            renamed = await names.lookup(session, "改名 太郎", caller)
            refresh = time.perf_counter() - started
        assert [f.person_id for f in renamed.found] == [1], renamed
        keys = [fold(str(p["name"])) for p in people] + [
            fold(str(p["name_kana"])) for p in people if p["name_kana"]
        ]
        full = []
        for query in asked[:20]:
            started = time.perf_counter()
            process.extractOne(fold(query), keys, scorer=fuzz.WRatio)
            full.append(time.perf_counter() - started)
        median, p99 = statistics.median(samples), statistics.quantiles(samples, n=100)[98]
        base = statistics.median(full)
        print(
            f"{db.engine.dialect.name}: {count} people, {n_queries} lookups;"
            f" index built once in {build:.2f} s; first lookup after a rename {refresh:.3f} s"
        )
        print(
            f"lookup median {median * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms;"
            f" target < 50 ms median: {'met' if median < 0.05 else 'NOT met'}"
        )
        print(
            f"full fuzzy scan (baseline) median {base * 1000:.0f} ms;"
            f" lookup = {median / base:.3f}x of it"
        )
        await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    asyncio.run(main(args.people, args.queries, args.database_url))
