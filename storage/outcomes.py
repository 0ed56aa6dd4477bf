"""The outcomes ledger (issue 22): what the network brought, in yen, per person.

Every way in (the command line, HR's chat form, a CSV import, a referral moved to "hired")
goes through `validate` and `record`, so the same inputs are refused everywhere with the same
message key (outcomes.po) and every entry, correction and withdrawal is audited here."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.normalize import number as as_number
from bot.core.settings import OutcomeSettings
from storage import audit
from storage.importer import ImportFailed, ImportResult, Progress, RowError, RowProblem, read_rows
from storage.models import Outcome, Person, Referral

KINDS = ("rehire", "referral_hire", "contract", "deal", "purchase")
HIRES = frozenset({"rehire", "referral_hire"})
YEN = "JPY"
NOTE_CHARS = 2000
IMPORT_COLUMNS = ("email", "kind", "value", "on", "note")
MONEY_JUNK = re.compile(r"[,_\s¥￥円]")
CURRENCY = re.compile(r"^[A-Z]{3}$")


class BadOutcome(ValueError):
    """`key` (outcomes.po) says what is wrong; `field` is the form field it is about."""

    def __init__(self, key: str, field: str = "", **params: object) -> None:
        super().__init__(key)
        self.key, self.field, self.params = key, field, params


def yen(value: int) -> str:
    return f"¥{value:,}"


@dataclass(frozen=True)
class Entry:
    """A validated outcome, ready to be written."""

    kind: str
    value_yen: int
    occurred_on: date
    currency: str = YEN
    amount: float | None = None
    rate: float | None = None
    salary_yen: int | None = None
    note: str | None = None


def _money(text: str, field: str) -> Decimal:
    cleaned = MONEY_JUNK.sub("", unicodedata.normalize("NFKC", text))
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BadOutcome("outcomes.bad_number", field, value=text[:40]) from None
    if not value.is_finite():
        raise BadOutcome("outcomes.bad_number", field, value=text[:40])
    if value < 0:
        raise BadOutcome("outcomes.negative", field, value=text[:40])
    return value


def _whole(value: Decimal, limit: int) -> int:
    """Whole yen, at most `limit`: a larger amount is refused before it is rounded (1E100 has
    more digits than Decimal's precision, and rounding it raised InvalidOperation)."""
    if value > limit:
        raise BadOutcome("outcomes.too_large", "value", max=yen(limit))
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def validate(
    settings: OutcomeSettings,
    today: date,
    *,
    kind: str,
    value: str | None = None,
    salary: str | None = None,
    currency: str | None = None,
    rate: str | None = None,
    on: str | date | None = None,
    note: str | None = None,
) -> Entry:
    """The entry these inputs mean, or BadOutcome. A hire without a value is worth
    `hire_fee_rate` of the stated salary (else of `default_salary_yen`); a value in another
    currency needs the rate it is converted at (yen for one unit)."""
    kind = (kind or "").strip().lower()
    if kind not in KINDS:
        raise BadOutcome("outcomes.bad_kind", "kind", kind=kind[:30], kinds=", ".join(KINDS))
    code = unicodedata.normalize("NFKC", currency or "").strip().upper() or YEN
    if not CURRENCY.match(code):
        raise BadOutcome("outcomes.bad_currency", "currency", currency=code[:10])
    factor = Decimal(1)
    if code != YEN:
        if not (rate or "").strip():
            raise BadOutcome("outcomes.rate_needed", "rate", currency=code)
        factor = _money(rate or "", "rate")
        if factor == 0:
            raise BadOutcome("outcomes.bad_rate", "rate", value=(rate or "")[:40])
    salary_yen = None
    if (salary or "").strip():
        salary_yen = _whole(_money(salary or "", "salary") * factor, settings.max_value_yen)
    if (value or "").strip():
        amount = _money(value or "", "value")
        if code == YEN and amount != amount.to_integral_value():
            raise BadOutcome("outcomes.whole_yen", "value", value=(value or "")[:40])
        value_yen = _whole(amount * factor, settings.max_value_yen)
    elif kind in HIRES:
        amount = None
        base = salary_yen if salary_yen is not None else settings.default_salary_yen
        fee = Decimal(base) * Decimal(str(settings.hire_fee_rate))
        value_yen = _whole(fee, settings.max_value_yen)
    else:
        raise BadOutcome("outcomes.value_needed", "value", kind=kind)
    day = on if isinstance(on, date) else today
    if isinstance(on, str) and on.strip():
        try:
            day = date.fromisoformat(unicodedata.normalize("NFKC", on).strip())
        except ValueError:
            raise BadOutcome("outcomes.bad_date", "on", value=on[:40]) from None
    if day > today:
        raise BadOutcome("outcomes.future_date", "on", day=day.isoformat())
    text = " ".join((note or "").split()) or None
    if text and len(text) > NOTE_CHARS:
        raise BadOutcome("outcomes.note_too_long", "note", max=NOTE_CHARS)
    return Entry(
        kind, value_yen, day, code,
        float(amount) if code != YEN and amount is not None else None,
        float(factor) if code != YEN else None,
        salary_yen if kind in HIRES else None,
        text,
    )  # fmt: skip


async def person_for(session: AsyncSession, email: str) -> Person:
    """The live person with this email, or BadOutcome (unknown or forgotten)."""
    wanted = (email or "").strip().lower()
    person = await session.scalar(select(Person).where(func.lower(Person.email) == wanted))
    if person is None or person.is_forgotten:
        raise BadOutcome("outcomes.unknown_person", "email", email=wanted[:80] or "—")
    return person


def _facts(o: Outcome) -> dict[str, Any]:
    return {"person": o.person_id, "kind": o.kind, "value_yen": o.value_yen,
            "on": o.occurred_on.isoformat(), "currency": o.currency}  # fmt: skip


async def record(
    session: AsyncSession,
    person: Person,
    entry: Entry,
    *,
    source: str,
    actor_id: int | None,
    now: datetime,
    referral_id: int | None = None,
) -> Outcome:
    outcome = Outcome(
        person_id=person.id, kind=entry.kind, value_yen=entry.value_yen,
        occurred_on=entry.occurred_on, currency=entry.currency, amount=entry.amount,
        rate=entry.rate, salary_yen=entry.salary_yen, note=entry.note, source=source,
        referral_id=referral_id, recorded_by=actor_id, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(outcome)
    await session.flush()
    await audit.record(session, now, actor_id, "outcome", f"outcome:{outcome.id}", source=source,
                       **_facts(outcome))  # fmt: skip
    return outcome


async def get(session: AsyncSession, outcome_id: str | int) -> Outcome:
    """A live (not withdrawn) outcome, or BadOutcome."""
    wanted = as_number(str(outcome_id).strip().upper().removeprefix("O"))
    found = await session.get(Outcome, wanted) if wanted else None
    if found is None:
        raise BadOutcome("outcomes.unknown", id=str(outcome_id)[:20])
    if found.withdrawn_at is not None:
        raise BadOutcome("outcomes.withdrawn", id=found.id)
    return found


def original_value(o: Outcome) -> str:
    """The value as it was given: in its currency, or in yen."""
    if o.currency != YEN and o.amount is not None:
        return f"{o.amount:g}"
    return str(o.value_yen)


async def correct(
    session: AsyncSession,
    outcome: Outcome,
    settings: OutcomeSettings,
    today: date,
    *,
    person: Person | None = None,
    actor_id: int | None,
    now: datetime,
    **given: str | None,
) -> Outcome:
    """Change what was given (`kind`, `value`, `salary`, `currency`, `rate`, `on`, `note`);
    the rest stays. A new salary without a value values a hire afresh."""
    value = given.get("value") or (None if given.get("salary") else original_value(outcome))
    entry = validate(
        settings, today,
        kind=given.get("kind") or outcome.kind,
        value=value,
        salary=given.get("salary") or (str(outcome.salary_yen) if outcome.salary_yen else None),
        currency=given.get("currency") or outcome.currency,
        rate=given.get("rate") or (f"{outcome.rate:g}" if outcome.rate else None),
        on=given.get("on") or outcome.occurred_on,
        note=given["note"] if given.get("note") is not None else outcome.note,
    )  # fmt: skip
    before = _facts(outcome)
    for name, new in entry.__dict__.items():
        setattr(outcome, name, new)
    if person is not None:
        outcome.person_id = person.id
    outcome.updated_at = now
    await audit.record(session, now, actor_id, "outcome_correct", f"outcome:{outcome.id}",
                       before=before, after=_facts(outcome))  # fmt: skip
    return outcome


async def withdraw(
    session: AsyncSession, outcome: Outcome, *, actor_id: int | None, now: datetime
) -> Outcome:
    outcome.withdrawn_at = outcome.updated_at = now
    await audit.record(session, now, actor_id, "outcome_withdraw", f"outcome:{outcome.id}",
                       **_facts(outcome))  # fmt: skip
    return outcome


# -- from the referral pipeline ----------------------------------------------------------------


async def from_hired_referral(
    session: AsyncSession,
    referral: Referral,
    settings: OutcomeSettings,
    today: date,
    *,
    actor_id: int | None,
    now: datetime,
) -> Outcome | None:
    """The outcome a referral moved to "hired" becomes, once: an alumnus's own interest is a
    rehire of that alumnus; a referral is a referral hire credited to the candidate when they
    are one of ours, else to whoever referred them. None when nobody is left to credit."""
    if referral.status != "hired":
        return None
    if await session.scalar(select(Outcome.id).where(Outcome.referral_id == referral.id)):
        return None
    kind = "rehire" if referral.kind == "interest" else "referral_hire"
    pid = referral.candidate_person_id or (None if kind == "rehire" else referral.referrer_id)
    person = await session.get(Person, pid) if pid else None
    if person is None or person.is_forgotten:
        return None
    entry = validate(settings, today, kind=kind)
    return await record(session, person, entry, source="pipeline", actor_id=actor_id, now=now,
                        referral_id=referral.id)  # fmt: skip


# -- CSV import --------------------------------------------------------------------------------


async def import_outcomes(
    session: AsyncSession,
    data: bytes,
    now: datetime,
    settings: OutcomeSettings,
    today: date,
    progress: Progress | None = None,
) -> ImportResult:
    """`email,kind,value,on,note`: all or nothing, every bad row reported by line, each as its
    refusal's key (outcomes.po), said in the reader's language."""
    rows = read_rows(data, IMPORT_COLUMNS, ("email", "kind", "value"))
    emails = sorted({r.get("email", "").lower() for _, r in rows})
    found: dict[str, Person] = {}
    for start in range(0, len(emails), 1000):
        chunk = emails[start : start + 1000]
        query = select(Person).where(func.lower(Person.email).in_(chunk))
        found |= {(p.email or "").lower(): p for p in await session.scalars(query)}
    errors: list[RowError] = []
    good: list[tuple[Person, Entry]] = []
    for number, row in rows:
        try:
            person = found.get(row.get("email", "").lower())
            if person is None or person.is_forgotten:
                raise BadOutcome("outcomes.unknown_person", email=row.get("email", "")[:80])
            entry = validate(settings, today, kind=row.get("kind", ""), value=row.get("value"),
                             on=row.get("on"), note=row.get("note"))  # fmt: skip
        except BadOutcome as exc:
            errors.append(RowError(number, (RowProblem(exc.key, exc.params),)))
            continue
        good.append((person, entry))
    if errors:
        raise ImportFailed(errors)
    for done, (person, entry) in enumerate(good, start=1):
        await record(session, person, entry, source="import", actor_id=None, now=now)
        if progress:
            progress(done)
    return ImportResult(created=len(good))
