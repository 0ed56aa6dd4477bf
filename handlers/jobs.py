"""Comeback openings: HR posts them, the bot matches alumni to them and tells the best matches.

Commands: `jobs [words]` — open openings, the caller's matches first with the reason.
Buttons: interested / not for me (anyone told of an opening).
HR's side (postjob, edit, close, list, broadcast) is handlers/jobs_hr.py.
Referring someone is handlers/referrals.py.
Scheduled work: `digest` (a tick) sends the job notices that waited for a person's weekly slot.

A new opening is matched (bot/core/matching.py) against alumni open to a comeback; the best
`matching.notify_top` are stored as matches and told through the outbox — at most one job
message per person every `matching.notice_interval_days`; what waits goes out in the next one."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import matching
from bot.core.i18n import Catalogs, Translator
from bot.core.normalize import fold
from bot.core.settings import Settings
from bot.core.types import Button, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from bot.dispatch.services import Services
from storage import job_index, outbox, referrals
from storage import jobs as store
from storage.importer import ImportResult, Progress
from storage.models import Match, Opening, OutboxKind, Person

log = logging.getLogger(__name__)
SHOWN = 8  # openings in one `jobs` answer
MAX_DESCRIPTION = 3000


# -- how an opening reads ---------------------------------------------------------------------


def card(t: Translator, o: Opening) -> str:
    where = [o.location] if o.location else []
    if o.remote:
        where.append(t("jobs.remote"))
    parts = [o.department or "", " / ".join(where)]
    if o.employment_type:
        known = o.employment_type in store.EMPLOYMENT_TYPES
        parts.append(t(f"jobs.type.{o.employment_type}") if known else o.employment_type)
    if o.closes_on:
        parts.append(t("jobs.closes", date=t.date(o.closes_on)))
    details = " · ".join(p for p in parts if p)
    return f"#{o.id} {o.title}" + (f" — {details}" if details else "")


def reason_text(t: Translator, reason: dict[str, Any]) -> str:
    """ "Python, SQL; you were in Sales" — from what the matcher found (`Match.reason`)."""
    parts = []
    skills = [*reason.get("skills", []), *reason.get("nice", [])]
    if skills:
        parts.append(t("jobs.list_sep").join(skills))
    for part in ("role", "department", "location"):
        if reason.get(part):
            parts.append(t(f"jobs.reason.{part}", value=reason[part]))
    return t("jobs.reason_sep").join(parts)


async def opening_for(ctx: Context, payload: str, *, must_be_open: bool) -> Opening:
    opening = await store.get(ctx.session, payload.partition(":")[0])
    if opening is None:
        raise UserFacingError("jobs.unknown", id=payload)
    if must_be_open and (
        opening.status != "open" or (opening.closes_on and opening.closes_on < ctx.today)
    ):
        raise UserFacingError("jobs.closed", title=opening.title)
    return opening


# -- browsing ---------------------------------------------------------------------------------


async def tell_owner(
    ctx: Context,
    opening: Opening,
    text_key: str,
    key: str,
    kind: str,
    notes: Sequence[tuple[str, str]] = (),
    **values: Any,
) -> Person | None:
    """A DM to the HR person who owns the opening (in their language, with a button to the
    pipeline), with `notes` ((message key, text) lines) below; the owner told, or None when the
    opening has none (or they were forgotten)."""
    owner = await ctx.session.get(Person, opening.owner_id) if opening.owner_id else None
    if owner is None or owner.is_forgotten:
        return None
    t = ctx.translator_for(owner)
    lines = [t(text_key, id=opening.id, title=opening.title, **values)]
    lines += [t(note, text=text) for note, text in notes if text]
    text = "\n".join(lines)
    await outbox.enqueue(
        ctx.session,
        person_id=owner.id,
        reply=Reply(text, buttons=((Button(t("jobs.pipeline_button"), "referral.list"),),)),
        key=key,
        kind=kind,
        now=ctx.now,
    )
    return owner


def _matches_words(o: Opening, words: Sequence[str]) -> bool:
    syn = matching.synonyms()
    fields = [o.title, o.department or "", o.description, o.location or "", *o.skills]
    fields += o.nice_to_have
    text = " ".join(fold(f) for f in fields)
    canon = " ".join(syn.canonical_text(f) for f in fields)
    return all(fold(w) in text or syn.canonical(w) in canon for w in words)


async def browse(ctx: Context, msg: Incoming) -> Reply:
    words = [w for w in msg.args if fold(w)]
    found = [o for o in await store.open_openings(ctx.session, ctx.today)]
    found = [o for o in found if _matches_words(o, words)]
    if not found:
        raise UserFacingError(
            "jobs.none_found" if words else "jobs.none_open", words=" ".join(words)
        )
    mine = matching.match_one(
        store.profile(ctx.me), [store.wanted(o) for o in found], ctx.settings.matching
    )
    found.sort(key=lambda o: (-(mine[o.id].score if o.id in mine else -1), -o.id))
    t, lines, rows = ctx.t, [], []
    head = "jobs.browse_title_words" if words else "jobs.browse_title"
    lines.append(t(head, count=len(found), words=" ".join(words)))
    for o in found[:SHOWN]:
        lines.append("")
        lines.append(card(t, o))
        if o.id in mine:
            lines.append("★ " + t("jobs.why_you", reason=reason_text(t, mine[o.id].reason)))
        rows.append(
            (
                Button(t("jobs.interested_button_n", id=o.id), "jobs.interested", str(o.id)),
                Button(t("jobs.refer_button_n", id=o.id), "jobs.refer", str(o.id)),
            )
        )
    if len(found) > SHOWN:
        lines += ["", t("jobs.more", count=len(found) - SHOWN)]
    return Reply("\n".join(lines), buttons=tuple(rows))


# -- answering a notice -----------------------------------------------------------------------


async def interested(ctx: Context, msg: Incoming) -> Reply:
    """Tell HR (a DM to the opening's owner and a line in `referrals`); thank the alumnus.
    Pressing it again changes nothing."""
    opening = await opening_for(ctx, msg.payload, must_be_open=True)
    me = ctx.me
    key = (me.email or "").lower() or f"person:{me.id}"
    added = await referrals.add(
        ctx.session,
        opening_id=opening.id,
        kind=OutboxKind.INTEREST,
        referrer_id=me.id,
        candidate_person_id=me.id,
        candidate_name=me.name,
        contact=me.email,
        key=key,
        relationship=None,
        why=None,
        now=ctx.now,
    )
    if added is None:
        return Reply(ctx.t("jobs.interest_again", title=opening.title))
    match = await store.match_of(ctx.session, opening.id, me.id)
    if match is None:
        match = Match(opening_id=opening.id, person_id=me.id, score=0.0, reason={})
        match.created_at = match.notified_at = ctx.now
        ctx.session.add(match)
    match.response = "interested"
    owner = await tell_owner(
        ctx, opening, "jobs.hr_interest", f"interest:{opening.id}:{me.id}", "job_interest",
        name=me.name,
    )  # fmt: skip
    await ctx.audit("job_interest", f"opening:{opening.id}")
    who = owner.name if owner is not None else ctx.t("jobs.hr_team")
    return Reply(ctx.t("jobs.interest_thanks", title=opening.title, hr=who))


async def not_for_me(ctx: Context, msg: Incoming) -> Reply:
    opening = await opening_for(ctx, msg.payload, must_be_open=False)
    match = await store.match_of(ctx.session, opening.id, ctx.me.id)
    if match is not None and match.response == "interested":
        return Reply(ctx.t("jobs.interest_again", title=opening.title))
    if match is not None:
        match.response = "not_for_me"
    return Reply(ctx.t("jobs.not_for_me_ok", title=opening.title))


# -- matching and notices ---------------------------------------------------------------------


async def match_and_store(
    session: AsyncSession, settings: Settings, openings: Sequence[Opening], now: datetime
) -> list[matching.Found]:
    """Match openings against alumni open to a comeback; store the best as pending matches."""
    if not openings:
        return []
    index = await job_index.profile_index(session)
    if not len(index):
        return []
    m = settings.matching
    results = index.match([store.wanted(o) for o in openings], m, limit=m.notify_top)
    for opening_id, found in results.items():
        await store.save_matches(session, opening_id, found, now)
    return [f for found in results.values() for f in found]


async def warm(app: Services) -> None:
    """Build this process's profile index (storage/job_index.py) before the first posting would
    wait for it: `serve` starts this beside taking requests. A failure is logged, not raised: the
    first posting then builds it."""
    try:
        async with app.db.transaction() as session:
            index = await job_index.profile_index(session)
        log.info("job matching: %d profiles indexed", len(index))
    except Exception:
        log.exception("job matching: building the profile index failed; the first posting will")


def notice(t: Translator, items: Sequence[tuple[Match, Opening]]) -> Reply:
    """One job message: an opening with its reason and three buttons, or a short digest."""
    if len(items) == 1:
        match, o = items[0]
        lines = [
            t("jobs.notice", card=card(t, o)),
            t("jobs.why_you", reason=reason_text(t, match.reason)),
        ]
        lines += [x for x in (o.description[:600], o.welcome_note or "") if x]  # fmt: skip
        return Reply(
            "\n\n".join(lines),
            buttons=(
                (
                    Button(t("jobs.interested_button"), "jobs.interested", str(o.id), "primary"),
                    Button(t("jobs.refer_button"), "jobs.refer", str(o.id)),
                    Button(t("jobs.not_for_me_button"), "jobs.not_for_me", str(o.id)),
                ),
            ),
        )
    lines, rows = [t("jobs.digest", count=len(items))], []
    for match, o in items:
        lines += ["", card(t, o), t("jobs.why_you", reason=reason_text(t, match.reason))]
        rows.append(
            (
                Button(t("jobs.interested_button_n", id=o.id), "jobs.interested", str(o.id)),
                Button(t("jobs.refer_button_n", id=o.id), "jobs.refer", str(o.id)),
                Button(t("jobs.not_for_me_button_n", id=o.id), "jobs.not_for_me", str(o.id)),
            )
        )
    return Reply("\n".join(lines), buttons=tuple(rows))


async def send_notices(
    session: AsyncSession,
    catalogs: Catalogs,
    settings: Settings,
    now: datetime,
    person_ids: Sequence[int] | None = None,
) -> int:
    """Queue a job message for everyone (of `person_ids`) with pending matches whose weekly
    slot is free; returns how many were queued."""
    sent = 0
    for _ in range(10_000):  # bounded: every batch notifies or sets aside whom it claims
        handled, queued = await _notice_batch(session, catalogs, settings, now, person_ids)
        sent += queued
        if not handled:
            break
    return sent


async def _notice_batch(
    session: AsyncSession,
    catalogs: Catalogs,
    settings: Settings,
    now: datetime,
    person_ids: Sequence[int] | None,
) -> tuple[int, int]:
    m = settings.matching
    today = now.astimezone(ZoneInfo(settings.default_timezone)).date()
    due = await store.due_notices(
        session, now=now, today=today, not_since=now - timedelta(days=m.notice_interval_days),
        person_ids=person_ids, per_person=m.digest_size,
    )  # fmt: skip
    sent = 0
    for item in due:
        person = item.person
        if "jobs" in (person.opt_outs or []) or person.comeback not in store.COMEBACK_OK:
            await store.skip_pending(session, person.id, today)
            continue
        t = catalogs.for_person(person.locale, settings.default_locale)
        ids = "-".join(str(match.opening_id) for match, _ in item.matches)
        await outbox.enqueue(
            session, person_id=person.id, reply=notice(t, item.matches),
            key=f"job:{person.id}:{ids}", kind=OutboxKind.JOB, now=now,
        )  # fmt: skip
        for match, _ in item.matches:
            match.notified_at = now
        person.last_job_notice_at = now
        sent += 1
    await session.flush()
    return len(due), sent


async def digest(app: Services) -> int:
    """The tick: job notices that waited for a person's weekly slot (or for their unpausing),
    a batch per transaction so row locks are held briefly."""
    total = 0
    while True:
        async with app.db.transaction() as session:
            handled, sent = await _notice_batch(
                session, app.catalogs, app.settings, app.clock.now(), None
            )
        total += sent
        if not handled:
            return total


def openings_importer(
    app: Services,
) -> Callable[[AsyncSession, bytes, datetime, Progress | None], Awaitable[ImportResult]]:
    """`alumni-bot import openings FILE.csv`: all or nothing, then matched and announced."""

    async def run(
        session: AsyncSession, data: bytes, now: datetime, progress: Progress | None = None
    ) -> ImportResult:
        today = now.astimezone(ZoneInfo(app.settings.default_timezone)).date()
        created = await store.import_openings(
            session, data, now, today, app.settings.matching.max_skills, progress
        )
        found = await match_and_store(session, app.settings, created, now)
        await send_notices(
            session, app.catalogs, app.settings, now, sorted({f.person_id for f in found})
        )
        return ImportResult(created=len(created))

    return run
