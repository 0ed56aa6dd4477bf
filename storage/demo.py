"""The demo company: `alumni-bot demo`. Deterministic (a fixed seed; dates relative to today so
events are upcoming), idempotent, realistic enough to try every feature on the console.

About 300 people, mostly Japanese names with readings; employees and alumni in eight
departments; managers and teammates; two years of interactions whose frequency drives the
pulse-survey scores (as the research behind the product found); openings, perks and events.

Everyone has a console identity, so the console reaches them, and a little is left due so the
first run shows what the bot is for: `alumni-bot worker --drain`, then `alumni-bot chat --as
hanako@example.com` prints her check-in, a job notice and an event reminder (and `--as
taro@example.com` his nudge about the reports he lost touch with)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import people
from storage.models import (
    Event,
    Identity,
    Interaction,
    Match,
    Opening,
    Perk,
    Person,
    Relation,
    Role,
    Rsvp,
    SurveyResponse,
)

SEED = 20261124
ADMIN, HR = "admin@example.com", "hr@example.com"
HANAKO, TARO = "hanako@example.com", "taro@example.com"
CONSOLE = "console"  # the demo is tried in a terminal: `alumni-bot chat --as EMAIL`
CHECKINS_DUE = 3  # hanako and two other alumni
SURNAMES = [
    ("佐藤", "さとう", "sato"), ("鈴木", "すずき", "suzuki"), ("高橋", "たかはし", "takahashi"),
    ("田中", "たなか", "tanaka"), ("伊藤", "いとう", "ito"), ("渡辺", "わたなべ", "watanabe"),
    ("山本", "やまもと", "yamamoto"), ("中村", "なかむら", "nakamura"), ("小林", "こばやし", "kobayashi"),
    ("加藤", "かとう", "kato"), ("吉田", "よしだ", "yoshida"), ("山田", "やまだ", "yamada"),
    ("佐々木", "ささき", "sasaki"), ("山口", "やまぐち", "yamaguchi"), ("松本", "まつもと", "matsumoto"),
    ("井上", "いのうえ", "inoue"), ("木村", "きむら", "kimura"), ("林", "はやし", "hayashi"),
    ("斉藤", "さいとう", "saito"), ("清水", "しみず", "shimizu"), ("髙橋", "たかはし", "takahashi"),
    ("山﨑", "やまざき", "yamazaki"), ("森", "もり", "mori"), ("池田", "いけだ", "ikeda"),
]  # fmt: skip
GIVEN = [
    ("花子", "はなこ", "hanako"), ("太郎", "たろう", "taro"), ("翔太", "しょうた", "shota"),
    ("美咲", "みさき", "misaki"), ("健一", "けんいち", "kenichi"), ("陽菜", "ひな", "hina"),
    ("大輔", "だいすけ", "daisuke"), ("彩", "あや", "aya"), ("拓也", "たくや", "takuya"),
    ("結衣", "ゆい", "yui"), ("直樹", "なおき", "naoki"), ("さくら", "さくら", "sakura"),
    ("亮", "りょう", "ryo"), ("真由美", "まゆみ", "mayumi"), ("隆", "たかし", "takashi"),
    ("恵", "めぐみ", "megumi"), ("蓮", "れん", "ren"), ("葵", "あおい", "aoi"),
]  # fmt: skip
WESTERN = ["Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Chloe", "Daniel"]
WESTERN_LAST = ["Brown", "Smith", "Wilson", "Taylor", "Martin", "Lee", "Clark", "Walker"]
DEPARTMENTS = {
    "営業": ["営業", "法人営業", "交渉", "Salesforce"],
    "エンジニアリング": ["Python", "Go", "SQL", "AWS", "Kubernetes", "TypeScript", "React"],
    "マーケティング": ["マーケティング", "SEO", "広告運用", "データ分析"],
    "人事": ["採用", "労務", "研修"],
    "経理": ["会計", "税務", "Excel"],
    "カスタマーサクセス": ["カスタマーサポート", "オンボーディング", "SQL"],
    "デザイン": ["UIデザイン", "Figma", "UXリサーチ"],
    "プロダクト": ["プロダクトマネジメント", "データ分析", "SQL"],
}
LEAVE_REASONS = ["転職", "キャリアアップ", "家庭の事情", "留学", "起業", "relocation", "転居"]
LOCATIONS = ["東京", "大阪", "福岡", "名古屋", "London", "Singapore", "リモート"]


def _person(rng: random.Random, today: date, alumnus: bool, dept: str, n: int) -> Person:
    if rng.random() < 0.85:
        (sur, sur_kana, sur_r), (given, given_kana, given_r) = (
            rng.choice(SURNAMES),
            rng.choice(GIVEN),
        )
        name, kana, email = f"{sur} {given}", f"{sur_kana} {given_kana}", f"{given_r}.{sur_r}"
        locale, tz = "ja", "Asia/Tokyo"
    else:
        first, last = rng.choice(WESTERN), rng.choice(WESTERN_LAST)
        name, kana, email = f"{first} {last}", None, f"{first}.{last}".lower()
        locale, tz = "en", rng.choice(["Europe/London", "Asia/Singapore", "Asia/Tokyo"])
    joined = today - timedelta(days=rng.randint(400, 6000))
    left = None
    if alumnus:
        left = min(today - timedelta(days=30), joined + timedelta(days=rng.randint(300, 4000)))
    skills = rng.sample(DEPARTMENTS[dept], k=min(len(DEPARTMENTS[dept]), rng.randint(1, 3)))
    now = datetime.combine(today, time(9), UTC)
    return Person(
        email=f"{email}.{n}@example.com",
        name=name,
        name_kana=kana,
        department=dept,
        title=rng.choice(["メンバー", "メンバー", "リーダー", "マネージャー"]),
        joined_on=joined,
        left_on=left,
        join_route=rng.choice(["new_grad", "mid_career"]),
        leave_reason=rng.choice(LEAVE_REASONS) if alumnus else None,
        skills=skills,
        desired_roles=[],
        location=rng.choice(LOCATIONS),
        locale=locale,
        timezone=tz,
        comeback=rng.choice(["unknown", "open", "maybe", "not_now"]) if alumnus else "unknown",
        consent_at=now,
        consent_version="demo",
        opt_outs=[],
        created_at=now,
        updated_at=now,
    )


async def load(session: AsyncSession, now: datetime, size: int = 300) -> int:
    """Load the demo company; 0 when it is already there."""
    if await people.person_by_email(session, ADMIN) is not None:
        return 0
    rng, today = random.Random(SEED), now.date()
    staff: dict[str, list[Person]] = {d: [] for d in DEPARTMENTS}
    everyone: list[Person] = []
    for n in range(size - 4):
        dept = list(DEPARTMENTS)[n % len(DEPARTMENTS)]
        person = _person(rng, today, alumnus=rng.random() < 0.65, dept=dept, n=n)
        staff[dept].append(person)
        everyone.append(person)
    fixed = [
        (ADMIN, "管理 太郎", "かんり たろう", "IT", None),
        (HR, "人事 花子", "じんじ はなこ", "人事", None),
        ("hanako@example.com", "山田 花子", "やまだ はなこ", "営業", today - timedelta(days=400)),
        ("taro@example.com", "佐藤 太郎", "さとう たろう", "営業", None),
    ]
    for email, name, kana, dept, left in fixed:
        person = _person(rng, today, alumnus=left is not None, dept="営業", n=0)
        person.email, person.name, person.name_kana, person.department = email, name, kana, dept
        person.left_on, person.locale, person.timezone = left, "ja", "Asia/Tokyo"
        if email == "taro@example.com":
            person.title = "部長"
        everyone.append(person)
        staff.setdefault(dept, []).append(person)
    session.add_all(everyone)
    await session.flush()
    by_email = {p.email: p for p in everyone}
    await people.grant(session, by_email[ADMIN], Role.ADMIN, None, now)
    await people.grant(session, by_email[HR], Role.HR, None, now)

    relations: set[tuple[int, int, str]] = set()
    for members in staff.values():
        managers = [p for p in members if p.left_on is None and p.title in ("マネージャー", "部長")]
        managers = managers or [p for p in members if p.left_on is None] or members[:1]
        for p in members:
            boss = (
                by_email["taro@example.com"]
                if p.email == "hanako@example.com"
                else rng.choice(managers)
            )
            if boss.id != p.id:
                relations.add((p.id, boss.id, "manager"))
            for other in rng.sample(members, k=min(3, len(members))):
                if other.id != p.id:
                    relations.add((p.id, other.id, "colleague"))
    session.add_all(Relation(person_id=a, other_id=b, kind=k) for a, b, k in sorted(relations))

    partners: dict[int, list[int]] = {}
    for a, b, _ in sorted(relations):  # a set of str-bearing tuples: its order changes per run
        partners.setdefault(a, []).append(b)
    seen: set[tuple[int, int, date, str]] = set()
    interactions: list[Interaction] = []
    surveys: list[SurveyResponse] = []
    for p in everyone:
        if p.left_on is None or p.id not in partners:
            continue
        yearly = rng.choice([0, 0, 1, 2, 3, 5, 8, 12, 18])
        for _ in range(yearly * 2):
            day = today - timedelta(days=rng.randint(0, 730))
            if day < p.left_on:
                continue
            partner: int = rng.choice(partners[p.id])
            kind = "in_person" if rng.random() < 0.4 else "online"
            a, b = sorted((p.id, partner))
            if (a, b, day, kind) in seen:
                continue
            seen.add((a, b, day, kind))
            interactions.append(
                Interaction(
                    person_a=a,
                    person_b=b,
                    kind=kind,
                    occurred_on=day,
                    source="log",
                    logged_by=p.id,
                    created_at=now,
                )
            )
        for half in range(4):
            if rng.random() < 0.6:
                answered = now - timedelta(days=182 * half + rng.randint(0, 60))
                period = f"{answered.year}H{1 if answered.month <= 6 else 2}"
                score = [
                    max(1, min(5, round(2 + yearly / 5 + rng.gauss(0, 0.8)))) for _ in range(3)
                ]
                surveys.append(
                    SurveyResponse(
                        person_id=p.id,
                        period=period,
                        rejoin=score[0],
                        keep_in_touch=score[1],
                        recommend=score[2],
                        answered_at=answered,
                    )
                )
    session.add_all(interactions)
    unique_surveys = {(s.person_id, s.period): s for s in surveys}
    session.add_all(unique_surveys.values())
    session.add_all(
        Identity(
            person_id=p.id, channel=CONSOLE, workspace="", user_id=p.email,
            priority=1000, created_at=now,  # as `chat --as` links it: never first elsewhere
        )
        for p in everyone
    )  # fmt: skip
    await _catalogue(session, rng, now, by_email[HR], [p for p in everyone if p.left_on])
    await _leave_due(session, now, by_email, [p for p in everyone if p.left_on])
    return len(everyone)


def _next_meetup(now: datetime) -> datetime:
    """The next 12:00 or 19:00 in Tokyo at least two hours ahead: within 24 hours (its reminder
    is due at once), and still ahead when the demo is drained a little later."""
    tokyo = ZoneInfo("Asia/Tokyo")
    day = now.astimezone(tokyo).date()
    slots = (
        datetime.combine(day + timedelta(days=d), time(h), tokyo) for d in (0, 1) for h in (12, 19)
    )
    return next(s for s in slots if s >= now + timedelta(hours=2)).astimezone(UTC)


async def _leave_due(
    session: AsyncSession, now: datetime, by_email: dict[str | None, Person], alumni: list[Person]
) -> None:
    """What the first `worker --drain` delivers: a few check-ins, a nudge, a job notice and an
    event reminder (the rest of the company is scheduled by the ticks, in the future)."""
    hanako, taro, due = by_email[HANAKO], by_email[TARO], now - timedelta(minutes=1)
    others = [p for p in alumni if p is not hanako][: CHECKINS_DUE - 1]
    for person in [hanako, *others]:
        person.next_checkin_at = due
    taro.next_nudge_at = due
    hanako.comeback = "open"
    opening = (
        await session.scalars(
            select(Opening).where(Opening.department == hanako.department).order_by(Opening.id)
        )
    ).first()
    if opening is not None:
        reason = {
            "skills": sorted(set(hanako.skills) & set(opening.skills)),
            "department": hanako.department,
        }
        session.add(
            Match(
                opening_id=opening.id, person_id=hanako.id, score=0.9, reason=reason, created_at=now
            )
        )
    start = _next_meetup(now)
    meetup = Event(
        uid=f"demo-cafe-{start:%Y%m%d%H}@alumni-bot",
        title="アルムナイ カフェ会",
        description="近況を話しましょう。",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        timezone="Asia/Tokyo",
        place="東京本社 1F カフェ",
        online_url=None,
        capacity=12,
        owner_id=by_email[HR].id,
        created_at=now,
        updated_at=now,
    )
    session.add(meetup)
    await session.flush()
    for person in [hanako, *others]:
        session.add(Rsvp(event_id=meetup.id, person_id=person.id, status="going", updated_at=now))


async def _catalogue(
    session: AsyncSession, rng: random.Random, now: datetime, hr: Person, alumni: list[Person]
) -> None:
    today = now.date()
    openings = [
        ("法人営業マネージャー", "営業", ["営業", "法人営業", "マネジメント"], ["Salesforce"], "東京"),
        ("バックエンドエンジニア", "エンジニアリング", ["Python", "SQL"], ["AWS", "Kubernetes"], "リモート"),
        ("フロントエンドエンジニア", "エンジニアリング", ["TypeScript", "React"], ["Figma"], "東京"),
        ("Product Manager", "プロダクト", ["プロダクトマネジメント", "データ分析"], ["SQL"], "東京"),
        ("カスタマーサクセス リード", "カスタマーサクセス", ["カスタマーサポート", "オンボーディング"], [], "大阪"),
        ("UX Designer", "デザイン", ["UXリサーチ", "Figma"], ["UIデザイン"], "London"),
    ]  # fmt: skip
    for title, dept, skills, nice, location in openings:
        session.add(
            Opening(
                title=title,
                department=dept,
                description=f"{title}として、再び一緒に働きませんか。",
                skills=skills,
                nice_to_have=nice,
                location=location,
                remote=location == "リモート",
                employment_type="full_time",
                welcome_note="おかえりなさい、を待っています。",
                closes_on=today + timedelta(days=60),
                owner_id=hr.id,
                created_at=now,
            )
        )
    perks = [
        ("社員価格での製品購入", "全製品 30% オフ", "自社", "all", None),
        ("コワーキングスペース割引", "提携拠点の月額 20% オフ", "WorkHub", "all", None),
        ("健康診断の優待", "提携クリニックで優待価格", "Clinic+", "tenure", 36),
        ("社内勉強会への招待", "エンジニア向け勉強会に参加できます", "自社", "department", None),
    ]
    for title, desc, partner, eligibility, months in perks:
        session.add(
            Perk(
                title=title,
                description=desc,
                partner=partner,
                how_to_redeem="アルムナイ専用ページから申込",
                eligibility=eligibility,
                min_tenure_months=months,
                department="エンジニアリング" if eligibility == "department" else None,
                valid_from=today - timedelta(days=30),
                valid_until=today + timedelta(days=180),
                announced_at=now,  # long announced: the first drain is not a flood of perks
                owner_id=hr.id,
                created_at=now,
            )
        )
    events = [
        ("アルムナイ交流会 2026 秋", -40, "東京本社 20F", 60),
        ("オンライン勉強会: 生成AIと営業", -10, None, None),
        ("アルムナイ忘年会", 21, "東京本社 20F ラウンジ", 80),
        ("Online Alumni Meetup (English)", 35, None, None),
    ]
    for title, days, place, capacity in events:
        start = datetime.combine(today + timedelta(days=days), time(10), UTC)  # 19:00 in Tokyo
        event = Event(
            uid=f"{uuid.UUID(int=rng.getrandbits(128))}@alumni-bot",
            title=title,
            description=title,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            timezone="Asia/Tokyo",
            place=place,
            online_url=None if place else "https://meet.example.com/alumni",
            capacity=capacity,
            owner_id=hr.id,
            created_at=now,
            updated_at=now,
        )
        session.add(event)
        await session.flush()
        for person in rng.sample(alumni, k=min(len(alumni), 25)):
            status = rng.choice(["going", "going", "maybe", "no"])
            session.add(
                Rsvp(
                    event_id=event.id,
                    person_id=person.id,
                    status=status,
                    attended=days < 0 and status == "going" and rng.random() < 0.8,
                    updated_at=now,
                )
            )
