"""Job matching: one opening against 100,000 profiles, and all 500 open openings against them.

    python bench/job_matching.py [--profiles 100000] [--openings 500] [--sample 2000]

Profiles and openings are synthetic but shaped like the real thing: a few thousand distinct
skills in English and Japanese (with width, case and kana variants and synonyms), 3–8 skills a
person, desired roles, departments and places. Figures:

- index: building `ProfileIndex` (fold + synonyms + the skill vocabulary) from the profiles;
- ours: `ProfileIndex.match` (vocabulary cdist, then scoring people by skill ids, reasons);
- floor: a bare `process.cdist(..., workers=-1)` of each opening's skill string against every
  profile's skill string (fuzz.ratio, pre-folded) — what any fuzzy comparison per profile costs;
- difflib: `difflib.SequenceMatcher.ratio` over the same strings, on a sample, extrapolated.
"""

from __future__ import annotations

import argparse
import difflib
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rapidfuzz import fuzz, process

from bot.core.matching import Profile, ProfileIndex, Wanted
from bot.core.normalize import fold
from bot.core.settings import MatchingSettings

BASE_SKILLS = (
    "Python", "SQL", "JavaScript", "JS", "TypeScript", "Go", "Java", "Kotlin", "Swift", "Ruby",
    "PHP", "C++", "Rust", "AWS", "GCP", "Azure", "Kubernetes", "k8s", "Docker", "Terraform",
    "PostgreSQL", "Postgres", "MySQL", "Redis", "React", "Vue", "Next.js", "Django", "Rails",
    "機械学習", "Machine Learning", "データ分析", "ﾃﾞｰﾀ分析", "統計", "Excel", "PowerPoint",
    "営業", "セールス", "法人営業", "交渉", "マーケティング", "マーケ", "広報", "PR", "経理",
    "財務", "人事", "採用", "労務", "法務", "カスタマーサクセス", "プロジェクト管理", "PM",
    "マネジメント", "デザイン", "Figma", "UX", "コピーライティング", "英語", "中国語",
    "パイソン", "ＰＹＴＨＯＮ", "ジャバスクリプト", "インフラ", "フロントエンド", "バックエンド",
)  # fmt: skip
ROLES = (
    "Backend Engineer", "バックエンドエンジニア", "Frontend Engineer", "データサイエンティスト",
    "Data Scientist", "営業マネージャー", "セールスマネージャー", "人事", "Recruiter", "PM",
    "プロダクトマネージャー", "デザイナー", "Designer", "経理担当", "SRE", "エンジニア",
)  # fmt: skip
DEPARTMENTS = ("営業", "Sales", "開発", "Engineering", "人事", "HR", "経理", "マーケティング",
               "広報", "法務", "CS", "デザイン", "情報システム", "経営企画")  # fmt: skip
PLACES = ("東京", "Tokyo", "東京都", "大阪", "Osaka", "京都", "福岡", "名古屋", "札幌", "横浜",
          "London", "Singapore", "New York", "仙台", "神戸", "広島")  # fmt: skip


def skill_pool(rng: random.Random, size: int) -> list[str]:
    """The real skills plus long-tail ones ("Python 3 tuning 17"), about `size` in all."""
    pool = list(BASE_SKILLS)
    while len(pool) < size:
        base = rng.choice(BASE_SKILLS)
        pool.append(f"{base} {rng.choice(('応用', 'tuning', '設計', 'ops', '実務'))} {len(pool)}")
    return pool


def make_profiles(rng: random.Random, n: int, pool: list[str]) -> list[Profile]:
    common = pool[: len(BASE_SKILLS)]
    out = []
    for i in range(n):
        k = rng.randint(3, 8)
        skills = [*rng.sample(common, k - 1), rng.choice(pool)]
        roles = rng.sample(ROLES, rng.randint(0, 2))
        out.append(Profile(i + 1, skills, roles, rng.choice(DEPARTMENTS), rng.choice(PLACES)))
    return out


def make_openings(rng: random.Random, n: int) -> list[Wanted]:
    return [
        Wanted(
            i + 1,
            rng.choice(ROLES),
            rng.sample(BASE_SKILLS, rng.randint(2, 5)),
            rng.sample(BASE_SKILLS, rng.randint(0, 3)),
            rng.choice(DEPARTMENTS),
            rng.choice(PLACES),
            rng.random() < 0.2,
        )
        for i in range(n)
    ]


def timed(work: object, repeat: int) -> float:
    """Median seconds of `repeat` runs."""
    assert callable(work)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--openings", type=int, default=500)
    parser.add_argument("--sample", type=int, default=2000, help="profiles difflib compares")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(7)
    settings = MatchingSettings()
    pool = skill_pool(rng, 5000)
    profiles = make_profiles(rng, args.profiles, pool)
    openings = make_openings(rng, args.openings)

    start = time.perf_counter()
    index = ProfileIndex(profiles)
    build = time.perf_counter() - start
    one = openings[:1]
    found = index.match(one, settings)[1]
    ours_one = timed(lambda: index.match(one, settings, limit=settings.notify_top), args.repeat)
    ours_all = timed(lambda: index.match(openings, settings, limit=settings.notify_top), 2)

    # The same strings, compared the way a per-profile fuzzy match would: folded, joined.
    profile_strings = [";".join(fold(s) for s in p.skills) for p in profiles]
    opening_strings = [";".join(fold(s) for s in (*o.skills, *o.nice_to_have)) for o in openings]
    floor_one = timed(
        lambda: process.cdist(opening_strings[:1], profile_strings, scorer=fuzz.ratio, workers=-1),
        args.repeat,
    )
    floor_all = timed(
        lambda: process.cdist(opening_strings, profile_strings, scorer=fuzz.ratio, workers=-1),
        1,
    )
    sample = profile_strings[: args.sample]

    def difflib_one() -> None:
        for s in sample:
            difflib.SequenceMatcher(None, opening_strings[0], s).ratio()

    difflib_one_full = timed(difflib_one, 3) * len(profiles) / len(sample)
    difflib_all_full = difflib_one_full * len(openings)

    print(f"profiles {len(profiles):,}, skill vocabulary {len(index.skills.ids):,} terms, "
          f"openings {len(openings)}")  # fmt: skip
    print(f"index build (fold, synonyms, vocabulary)   {build * 1000:9.1f} ms  (once per batch)")
    print(
        f"one opening:  ours {ours_one * 1000:8.1f} ms  ({len(found)} matches)  "
        f"floor cdist {floor_one * 1000:8.1f} ms  difflib ~{difflib_one_full:8.2f} s"
    )
    print(f"   ratio      ours/floor {ours_one / floor_one:6.3f}x   "
          f"ours/difflib {ours_one / difflib_one_full:8.5f}x   "
          f"target < 300 ms: {'met' if ours_one < 0.3 else 'MISSED'}")  # fmt: skip
    print(
        f"all {len(openings)}:     ours {ours_all:8.2f} s   "
        f"floor cdist {floor_all:8.2f} s   difflib ~{difflib_all_full / 60:8.1f} min"
    )
    print(f"   ratio      ours/floor {ours_all / floor_all:6.3f}x   "
          f"ours/difflib {ours_all / difflib_all_full:8.5f}x")  # fmt: skip


if __name__ == "__main__":
    main()
