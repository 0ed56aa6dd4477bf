"""Matching on a golden set of Japanese and English profiles and openings: who should meet,
meets (kana/kanji and width variants, synonyms); who should not, does not (Java ≠ JavaScript,
京都 ≠ 東京都, a department alone); and every match says why."""

from __future__ import annotations

import random

import pytest

from bot.core.matching import (
    Found,
    Profile,
    ProfileIndex,
    Wanted,
    match_one,
    parse_synonyms,
    synonyms,
)
from bot.core.settings import MatchingSettings
from storage.jobs import is_remote, split_skills

SETTINGS = MatchingSettings()

PROFILES = [
    Profile(1, ["Python", "SQL", "AWS"], ["Backend Engineer"], "Engineering", "London"),
    Profile(2, ["営業", "交渉"], ["営業マネージャー"], "営業", "東京"),
    Profile(3, ["ﾃﾞｰﾀ分析", "ＪＳ", "機械学習"], [], "人事", "Tokyo"),
    Profile(4, ["Java", "Spring"], ["エンジニア"], "開発", "大阪府"),
    Profile(5, [], ["セールスマネージャー"], "Sales", "京都"),
    Profile(6, ["ぱいそん", "postgres"], [], None, None),
    Profile(7, ["採用", "労務"], ["人事"], "HR", "東京都"),
    Profile(8, [], [], "Engineering", "London"),  # no skills, no roles: never a match
]
OPENINGS = {
    "backend": Wanted(
        1, "バックエンドエンジニア", ["python", "PostgreSQL"], ["AWS"], "開発", "東京"
    ),
    "sales": Wanted(2, "セールスマネージャー", ["セールス", "Negotiation"], [], "Sales", "東京都"),
    "frontend": Wanted(3, "Frontend Engineer", ["JavaScript"], ["データ分析"], None, None, True),
    "recruiter": Wanted(4, "Recruiter", ["Recruiting"], [], "人事", "Tokyo"),
    "kyoto": Wanted(5, "Store staff", ["接客"], [], None, "京都"),
}


@pytest.fixture(scope="module")
def results() -> dict[str, dict[int, dict[str, object]]]:
    index = ProfileIndex(PROFILES)
    found = index.match(list(OPENINGS.values()), SETTINGS)
    by_id = {o.id: name for name, o in OPENINGS.items()}
    return {
        by_id[oid]: {f.person_id: f.reason | {"score": f.score} for f in fs}
        for oid, fs in found.items()
    }


@pytest.mark.parametrize(
    ("opening", "person", "reason_part", "value"),
    [
        ("backend", 1, "skills", ["python"]),  # English, the opening's own spelling in the reason
        ("backend", 1, "department", "Engineering"),  # 開発 = Engineering (synonyms)
        ("backend", 6, "skills", ["python", "PostgreSQL"]),  # ぱいそん = パイソン = Python
        ("sales", 2, "skills", ["セールス", "Negotiation"]),  # 営業 = セールス, 交渉 = Negotiation
        ("sales", 2, "location", "東京"),  # 東京 = 東京都
        ("sales", 5, "role", "セールスマネージャー"),  # a desired role alone can fit
        ("frontend", 3, "skills", ["JavaScript"]),  # ＪＳ (full width) = JS = JavaScript
        ("frontend", 3, "nice", ["データ分析"]),  # ﾃﾞｰﾀ分析 (half-width kana)
        ("recruiter", 7, "skills", ["Recruiting"]),  # 採用 = Recruiting
        ("recruiter", 7, "department", "HR"),  # HR = 人事
        ("backend", 4, "role", "エンジニア"),  # Java, but wants to be an engineer: the role fits
    ],
)
def test_good_matches_meet_with_their_reason(
    results: dict[str, dict[int, dict[str, object]]],
    opening: str,
    person: int,
    reason_part: str,
    value: object,
) -> None:
    assert person in results[opening], results[opening]
    assert results[opening][person][reason_part] == value


@pytest.mark.parametrize(
    ("opening", "person"),
    [
        ("frontend", 4),  # Java is not JavaScript
        ("backend", 2),  # a salesperson is not a backend engineer
        ("backend", 7),  # recruiting is not engineering
        ("sales", 1),
        ("kyoto", 2),  # nobody has 接客: a town alone is no reason (京都 ≠ 東京都 anyway)
        ("kyoto", 5),
        ("recruiter", 3),  # was in 人事, but no recruiting skill or role
    ],
)
def test_bad_matches_stay_apart(
    results: dict[str, dict[int, dict[str, object]]], opening: str, person: int
) -> None:
    assert person not in results.get(opening, {})


def test_person_without_skills_or_roles_never_matches(
    results: dict[str, dict[int, dict[str, object]]],
) -> None:
    assert all(8 not in found for found in results.values())


def test_best_first_and_required_skills_weigh_more_than_nice_to_have() -> None:
    opening = Wanted(1, "Data Engineer", ["SQL"], ["Python"])
    index = ProfileIndex(
        [Profile(1, ["Python"]), Profile(2, ["SQL"]), Profile(3, ["SQL", "Python"])]
    )
    found = index.match([opening], MatchingSettings(min_score=0))[1]
    assert [f.person_id for f in found] == [3, 2, 1]
    assert [f.person_id for f in index.match([opening], SETTINGS)[1]] == [3, 2]  # threshold
    assert found[0].score > found[1].score > found[2].score


def test_ties_are_ordered_by_id_and_limit_applies() -> None:
    index = ProfileIndex([Profile(i, ["Go"]) for i in (5, 3, 9)])
    found = index.match([Wanted(1, "Go developer", ["golang"])], SETTINGS, limit=2)[1]
    assert [f.person_id for f in found] == [3, 5]  # Go = golang, exactly (short terms)


def test_nobody_with_skills_and_an_empty_index() -> None:
    assert ProfileIndex([]).match([OPENINGS["backend"]], SETTINGS) == {1: []}
    empty = ProfileIndex([Profile(1), Profile(2)])
    assert empty.match(list(OPENINGS.values()), SETTINGS) == {o.id: [] for o in OPENINGS.values()}


def test_one_person_against_many_openings() -> None:
    found = match_one(PROFILES[1], list(OPENINGS.values()), SETTINGS)
    assert list(found) == [2]


def test_short_skills_match_exactly_only() -> None:
    index = ProfileIndex([Profile(1, ["R"]), Profile(2, ["C"]), Profile(3, ["C++"])])
    found = index.match([Wanted(1, "Analyst", ["R"]), Wanted(2, "Systems", ["C"])], SETTINGS)
    assert [f.person_id for f in found[1]] == [1]
    assert [f.person_id for f in found[2]] == [2]


def test_synonym_table_is_consistent_and_refuses_a_spelling_under_two_terms() -> None:
    table = synonyms()
    assert (
        table.canonical("JS")
        == table.canonical("javascript")
        == table.canonical("ＪａｖａＳｃｒｉｐｔ")
    )
    assert table.canonical("営業") == table.canonical("セールス") == table.canonical("Sales")
    assert table.canonical("人事") == table.canonical("HR")
    assert table.canonical_text("セールスマネージャー") == table.canonical_text("営業マネージャー")
    with pytest.raises(ValueError, match="two terms"):
        parse_synonyms({"terms": {"a": ["x"], "b": ["X"]}})


def test_opening_helpers() -> None:
    assert split_skills("Python; SQL、python ,  Machine  Learning\n") == [
        "Python",
        "SQL",
        "Machine Learning",
    ]
    assert is_remote("東京 / リモート可") and is_remote("Remote") and is_remote("在宅勤務")
    assert not is_remote("東京") and not is_remote(None)


def test_an_index_kept_up_to_date_matches_as_one_built_afresh() -> None:
    """Profiles changed, added and dropped one by one (as storage/job_index.py does between
    postings) give the same people, scores and reasons as an index of the final profiles."""
    rng = random.Random(17)
    pool = [s for p in PROFILES for s in p.skills] + ["Go", "Kotlin", "マーケティング"]
    roles = [r for p in PROFILES for r in p.desired_roles]
    places = ["東京", "London", "大阪", None]

    def someone(pid: int) -> Profile:
        skills = rng.sample(pool, rng.randint(0, 4))
        wants = rng.sample(roles, rng.randint(0, 2))
        department = rng.choice(["営業", "Engineering", "HR", None])
        return Profile(pid, skills, wants, department, rng.choice(places))

    current = {p.id: p for p in PROFILES}
    kept = ProfileIndex(PROFILES)
    for _ in range(400):
        pid = rng.randint(1, 40)
        if rng.random() < 0.3:
            current.pop(pid, None)
            kept.drop(pid)
        else:
            current[pid] = someone(pid)
            kept.put(current[pid])
    assert kept.entries > len(kept) == len(current)
    fresh = ProfileIndex(sorted(current.values(), key=lambda p: p.id))
    openings = list(OPENINGS.values())
    for limit in (None, 3):
        assert kept.match(openings, SETTINGS, limit) == fresh.match(openings, SETTINGS, limit)
    assert kept.compacted().match(openings, SETTINGS) == fresh.match(openings, SETTINGS)
    assert len(kept.compacted()) == len(current)


def test_a_dropped_person_is_matched_no_more_and_put_back_again() -> None:
    index, backend = ProfileIndex(PROFILES), OPENINGS["backend"]
    alice = PROFILES[0].id  # Python, SQL, AWS: a backend engineer

    def matched() -> list[Found]:
        return index.match([backend], SETTINGS)[backend.id]

    assert alice in {f.person_id for f in matched()}
    index.drop(alice)
    assert alice not in {f.person_id for f in matched()}
    index.put(Profile(alice, ["Python", "Postgres"], ["Backend Engineer"], None, None))
    [again] = [f for f in matched() if f.person_id == alice]
    assert again.reason["skills"] == ["python", "PostgreSQL"] and again.reason["nice"] == []
