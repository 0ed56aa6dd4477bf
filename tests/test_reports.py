"""Engagement report numbers against values computed by hand, on SQLite and PostgreSQL.

The company (range 2025-11-25 – 2026-11-24: 365 days, so "a year" is the plain count):
employees M (the alumni's former manager) and C (their former colleague); alumni A1–A6 in 営業
(joined 2015, left 2023: 3+ years, new graduates), B1–B2 in 開発 and Z1–Z4 in 人事 (joined 2022,
left 2024: under 3 years, mid-career). Z4 used `forgetme`: their anonymised survey still counts.

    contacts   colleague (in person / online)   manager (in / on)   index
    A1         0                                0                   2 (a 5 in 2025: out of range)
    A2         1 / 0  (+1 with B1: unrelated)   0                   3
    A3         0 / 2                            1 / 0               3 (2, 3, 4)
    A4         2 / 2                            0                   4
    A5         0 / 12                           0 / 3               5
    A6         0                                0                   —
    B1         3 / 0  (+1 with A2)              0                   4
    B2, Z1–Z4  0                                0                   1, 1, 2, 2, 2
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.runtime.app import App
from storage.models import (
    Broadcast,
    BroadcastClick,
    Event,
    Identity,
    Interaction,
    Match,
    Opening,
    OutboxMessage,
    Perk,
    PerkClaim,
    Person,
    Referral,
    Relation,
    Rsvp,
    SurveyResponse,
)
from storage.reports import facts as report_facts
from storage.reports import funnels as report_funnels
from storage.reports import sections as reports
from storage.reports import stats as report_stats
from storage.reports.filter import BadFilter, make_filter

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
TODAY = date(2026, 11, 24)
IN_RANGE = datetime(2026, 6, 1, tzinfo=UTC)
BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
SCORES = {"A1": 2, "A2": 3, "A4": 4, "A5": 5, "B1": 4, "B2": 1, "Z1": 1, "Z2": 2, "Z3": 2, "Z4": 2}


def alumnus(name: str) -> Person:
    senior = name.startswith("A")
    return Person(
        name=name,
        email=f"{name.lower()}@example.com",
        department={"A": "営業", "B": "開発", "Z": "人事"}[name[0]],
        title="メンバー" if senior else "リーダー",
        joined_on=date(2015, 4, 1) if senior else date(2022, 4, 1),
        left_on=date(2023, 3, 31) if senior else date(2024, 3, 31),
        join_route="new_grad" if senior else "mid_career",
        leave_reason="転職" if senior else "起業",
        skills=["Python"] if name in ("A1", "A2") else [],
        comeback={"A1": "open", "A2": "open", "A3": "maybe"}.get(name, "unknown"),
        consent_at=BEFORE,
        forgotten_at=NOW if name == "Z4" else None,
    )


async def company(app: App) -> dict[str, int]:
    names = ["A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2", "Z1", "Z2", "Z3", "Z4"]
    async with app.db.transaction() as s:
        staff = [Person(name=n, email=f"{n.lower()}@example.com", department="営業") for n in "MC"]
        alumni = [alumnus(n) for n in names]
        s.add_all(staff + alumni)
        await s.flush()
        ids = {p.name: p.id for p in staff + alumni}
        m, c = ids["M"], ids["C"]
        for n in names:
            s.add_all(
                [
                    Relation(person_id=ids[n], other_id=m, kind="manager"),
                    Relation(person_id=ids[n], other_id=c, kind="colleague"),
                ]
            )
        day = iter(date(2026, 1, 1) + timedelta(days=i) for i in range(300))

        def meet(a: str, other: int, kind: str, times: int, on: date | None = None) -> None:
            for _ in range(times):
                low, high = sorted((ids[a], other))
                s.add(
                    Interaction(
                        person_a=low,
                        person_b=high,
                        kind=kind,
                        occurred_on=on or next(day),
                        source="log",
                    )
                )

        meet("A1", c, "in_person", 1, on=date(2025, 1, 1))  # before the range
        meet("A2", c, "in_person", 1)
        meet("A2", ids["B1"], "in_person", 1)  # unrelated: "other" for both
        meet("A3", c, "online", 2)
        meet("A3", m, "in_person", 1)
        meet("A4", c, "in_person", 2)
        meet("A4", c, "online", 2)
        meet("A5", c, "online", 12)
        meet("A5", m, "online", 3)
        meet("B1", c, "in_person", 3)
        for n, score in SCORES.items():
            s.add(
                SurveyResponse(
                    person_id=ids[n],
                    period="2026H1",
                    rejoin=score,
                    keep_in_touch=score,
                    recommend=score,
                    answered_at=IN_RANGE,
                )
            )
        s.add(
            SurveyResponse(
                person_id=ids["A3"],
                period="2026H1",
                rejoin=2,
                keep_in_touch=3,
                recommend=4,
                answered_at=IN_RANGE,
            )
        )
        s.add(
            SurveyResponse(
                person_id=ids["A1"],
                period="2025H1",
                rejoin=5,
                keep_in_touch=5,
                recommend=5,
                answered_at=BEFORE,
            )
        )
        s.add(Identity(person_id=ids["A1"], channel="telegram", user_id="1"))
        await _outcomes(s, ids)
    return ids


async def _outcomes(s: AsyncSession, ids: dict[str, int]) -> None:
    opening = Opening(title="営業", status="open")
    s.add(opening)
    await s.flush()
    for i, (kind, status) in enumerate(
        [
            ("referral", "submitted"),
            ("referral", "interview"),
            ("referral", "hired"),
            ("referral", "declined"),
            ("interest", "offer"),
        ]
    ):
        s.add(
            Referral(
                opening_id=opening.id,
                kind=kind,
                referrer_id=ids["A1"],
                status=status,
                candidate_name=f"候補{i}",
                candidate_key=f"k{i}",
                created_at=IN_RANGE,
            )
        )
    s.add(
        Match(
            opening_id=opening.id,
            person_id=ids["A2"],
            score=1,
            notified_at=IN_RANGE,
            response="interested",
        )
    )
    s.add(Match(opening_id=opening.id, person_id=ids["A3"], score=1, notified_at=IN_RANGE))
    held = datetime(2026, 10, 1, 9, tzinfo=UTC)
    event = Event(
        uid="e1", title="交流会", starts_at=held, ends_at=held, timezone="Asia/Tokyo", capacity=10
    )
    gone = Event(
        uid="e2",
        title="中止",
        starts_at=held,
        ends_at=held,
        timezone="Asia/Tokyo",
        status="cancelled",
    )
    s.add_all([event, gone])
    await s.flush()
    for n, status, attended in (
        ("A1", "going", True),
        ("A2", "going", False),
        ("A3", "maybe", False),
        ("A4", "waitlist", False),
    ):
        s.add(Rsvp(event_id=event.id, person_id=ids[n], status=status, attended=attended))
    s.add(Rsvp(event_id=gone.id, person_id=ids["A5"], status="going"))
    p1, p2 = Perk(title="割引"), Perk(title="健診")
    s.add_all([p1, p2])
    await s.flush()
    claimed = datetime(2026, 11, 1, tzinfo=UTC)
    for perk, n, at in (
        (p1, "A1", claimed),
        (p1, "A2", claimed),
        (p1, "A3", BEFORE),
        (p2, "A4", claimed),
    ):
        s.add(PerkClaim(perk_id=perk.id, person_id=ids[n], claimed_at=at))
    b = Broadcast(text="hi", segment="all", status="done", created_at=IN_RANGE)
    s.add(b)
    await s.flush()
    for n, state in (("A1", "sent"), ("A2", "sent"), ("A3", "dead")):
        s.add(
            OutboxMessage(
                idempotency_key=f"b{n}",
                person_id=ids[n],
                payload={},
                kind="broadcast",
                broadcast_id=b.id,
                state=state,
                not_before=IN_RANGE,
                created_at=NOW - timedelta(days=3),
            )
        )
    s.add(BroadcastClick(broadcast_id=b.id, person_id=ids["A1"], action="interested"))


async def test_people_sections_match_hand_computed_values(app: App) -> None:
    await company(app)
    f = make_filter(TODAY)
    assert (f.start, f.end, f.days) == (date(2025, 11, 25), TODAY, 365)
    async with app.db.transaction() as s, report_facts.facts(s, f):
        activity = await reports.activity(s, f)
        found = {c.series: c for c in await reports.consciousness(s, f)}
        index = {d.dimension: d.groups for d in await reports.index_by(s, f)}

    o = activity.overall  # 12 alumni (forgotten Z4 included: anonymised counts stay)
    assert o.people == 12
    assert o.colleague_in_person == pytest.approx(6 / 12)
    assert o.colleague_online == pytest.approx(16 / 12)
    assert o.manager_in_person == pytest.approx(1 / 12)
    assert o.manager_online == pytest.approx(3 / 12)
    assert o.total == pytest.approx(28 / 12)
    departments = {g.label: g for g in activity.by_department}
    assert departments["営業"].people == 6 and departments["営業"].total == pytest.approx(24 / 6)
    assert departments["営業"].colleague_online == pytest.approx(16 / 6)
    assert departments["開発"].people == 2 and departments["開発"].hidden  # under 5 people
    assert departments["人事"].people == 4 and departments["人事"].total is None

    colleague = found["colleague"]  # buckets 0 / 1–2 / 3–5 / 6–11 / 12+
    assert [b.people for b in colleague.buckets] == [6, 2, 2, 0, 1]
    assert colleague.buckets[0].index == pytest.approx(10 / 6)  # A1 B2 Z1 Z2 Z3 Z4
    assert [b.index for b in colleague.buckets[1:]] == [None] * 4  # under 5 people: hidden
    assert colleague.people == 11 and colleague.rho == pytest.approx(0.935147, abs=1e-5)
    manager = found["manager"]
    assert [b.people for b in manager.buckets] == [9, 1, 1, 0, 0]
    assert manager.buckets[0].index == pytest.approx(21 / 9)
    assert manager.rho == pytest.approx(0.521286, abs=1e-5)

    tenure = {g.label: (g.people, g.index) for g in index["tenure"]}
    assert tenure == {"ge3": (5, pytest.approx(17 / 5)), "lt3": (6, pytest.approx(2.0))}
    route = {g.label: (g.people, g.index) for g in index["join_route"]}
    assert route == {"new_grad": (5, pytest.approx(3.4)), "mid_career": (6, pytest.approx(2.0))}
    months = {g.label: (g.people, g.index) for g in index["months"]}
    assert months["36–59"] == (5, pytest.approx(3.4)) and months["12–35"] == (6, pytest.approx(2))
    assert months["0–11"] == (0, None)


async def test_each_side_of_a_contact_is_counted_by_its_own_relation(app: App) -> None:
    """Who managed whom decides the side: the report is per alumnus, and the interaction log
    stores each pair once, lower id first, so both orders of ids are tried."""
    async with app.db.transaction() as s:
        people = [alumnus(n) for n in ("A1", "A2", "A3", "A4", "A5")]
        s.add_all(people)
        await s.flush()
        a1, a2, a3, a4, a5 = (p.id for p in people)
        s.add_all(
            [
                Relation(person_id=a1, other_id=a2, kind="manager"),  # A2 managed A1
                Relation(person_id=a4, other_id=a3, kind="manager"),  # A3 managed A4
                Relation(person_id=a4, other_id=a5, kind="colleague"),  # stored both ways
                Relation(person_id=a5, other_id=a4, kind="colleague"),
            ]
        )
        for low, high, kind, times in (
            (a1, a2, "in_person", 2),
            (a3, a4, "online", 1),
            (a4, a5, "in_person", 3),
            (a1, a5, "online", 1),  # unrelated
        ):
            for day in range(times):
                s.add(
                    Interaction(
                        person_a=low,
                        person_b=high,
                        kind=kind,
                        occurred_on=date(2026, 5, 1 + day),
                        source="log",
                    )
                )
    f = make_filter(TODAY)
    async with app.db.transaction() as s, report_facts.facts(s, f):
        F = report_facts.F
        rows = await s.execute(select(F.id, F.m_in, F.m_on, F.c_in, F.c_on, F.o_all))
        counts = {row[0]: tuple(row[1:]) for row in rows}
    assert counts == {  # manager in/on, colleague in/on, other
        a1: (2, 0, 0, 0, 1),
        a2: (0, 0, 2, 0, 0),  # the person one managed is a colleague
        a3: (0, 0, 0, 1, 0),
        a4: (0, 1, 3, 0, 0),  # both ways stored, counted once
        a5: (0, 0, 3, 0, 1),
    }


async def test_outcome_sections_match_hand_computed_values(app: App) -> None:
    ids = await company(app)
    f = make_filter(TODAY)
    async with app.db.transaction() as s:
        funnel = await report_funnels.funnel(s, f)
        turnout = await report_funnels.turnout(s, f)
        perks = await report_funnels.perk_use(s, f)
        reach = await report_funnels.reach(s, f)
    assert funnel.comeback == {"open": 2, "maybe": 1, "unknown": 8}  # Z4 forgotten: not asked
    assert (funnel.matched, funnel.interested) == (2, 1)
    assert funnel.referrals == {"referral": [4, 2, 2, 1, 1], "interest": [1, 1, 1, 1, 0]}
    assert funnel.declined == {"referral": 1, "interest": 0} and funnel.rehires == 1
    assert (turnout.events, turnout.going, turnout.attended) == (1, 2, 1)  # cancelled left out
    [row] = turnout.rows
    assert (row.going, row.attended, row.maybe, row.waitlist, row.capacity) == (2, 1, 1, 1, 10)
    assert (perks.claims, perks.claimers) == (3, 3)
    assert [(r.title, r.claims) for r in perks.rows] == [("割引", 2), ("健診", 1)]
    assert (reach.broadcasts, reach.queued, reach.sent, reach.failed, reach.clickers) == (
        1,
        3,
        2,
        1,
        1,
    )

    narrow = make_filter(TODAY, segment="department:開発")  # B1, B2: nobody claimed, RSVPed
    async with app.db.transaction() as s:
        assert (await report_funnels.perk_use(s, narrow)).claims == 0
        assert (await report_funnels.turnout(s, narrow)).going == 0
        assert (await report_funnels.reach(s, narrow)).queued == 0
        assert (await report_funnels.funnel(s, narrow)).comeback == {"unknown": 2}
    assert ids


@pytest.mark.parametrize(
    ("segment", "people", "colleague_total"),
    [
        ("department:営業", 6, 19),
        ("skill:python", 2, 1),
        ("channel:telegram", 1, 0),
        ("join_route:mid_career", 6, 3),
    ],
)
async def test_segments_narrow_the_people_in_the_database(
    app: App, segment: str, people: int, colleague_total: int
) -> None:
    await company(app)
    f = make_filter(TODAY, segment=segment)
    F = report_facts.F
    async with app.db.transaction() as s, report_facts.facts(s, f):
        row = (await s.execute(select(func.count(), func.sum(F.c_in + F.c_on)))).one()
    assert (row[0], int(row[1] or 0)) == (people, colleague_total)


async def test_stats_summary(app: App) -> None:
    await company(app)
    async with app.db.transaction() as s:
        st = await report_stats.stats(s, NOW, "Asia/Tokyo")
    assert (st.alumni, st.joined, st.channels) == (11, 11, {"telegram": 1})
    assert (st.index_period, st.index_previous) == ("2026H1", pytest.approx(5.0))
    assert st.index == pytest.approx(29 / 11) and st.index_answers == 11
    assert (st.events, st.event_going, st.event_attended) == (1, 2, 1)
    assert (st.perk_claims, st.open_openings) == (3, 1)
    assert st.broadcast_states == {"sent": 2, "dead": 1}


@pytest.mark.parametrize(
    ("start", "end", "segment", "key"),
    [
        ("2026-13-01", None, None, "admin.bad_date"),
        ("2026-06-01", "2026-01-01", None, "admin.from_after_to"),
        (None, None, "planet:mars", "admin.bad_segment"),
        (None, None, "channel:fax", "broadcasts.bad_channel"),
        ("1990-01-01", None, None, "admin.range_too_long"),
    ],
)
def test_bad_filters_say_what_is_wrong(
    start: str | None, end: str | None, segment: str | None, key: str
) -> None:
    with pytest.raises(BadFilter) as caught:
        make_filter(TODAY, start, end, segment)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("cells", "rho"),
    [
        ({(0, 1.0): 2, (1, 2.0): 2, (3, 4.0): 1}, 1.0),  # ties, still perfectly monotone
        ({(0, 5.0): 3, (2, 1.0): 3}, -1.0),
        ({(0, 2.0): 3, (0, 4.0): 3}, None),  # nobody met anyone: undefined, not zero
        ({(0, 1.0): 2, (1, 2.0): 2}, None),  # four people: hidden
    ],
)
def test_rank_correlation_from_counted_cells(
    cells: dict[tuple[int, float], int], rho: float | None
) -> None:
    found, people = reports.spearman(cells)
    assert people == sum(cells.values())
    assert found == (pytest.approx(rho) if rho is not None else None)
