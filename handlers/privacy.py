"""pause, mydata, forgetme: a person's control over what the bot does with them."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from bot.core import forms
from bot.core.types import Attachment, Button, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from bot.dispatch.services import Services
from storage import audit, people, privacy

UNTIL_WORDS = frozenset({"until", "till", "まで"})
MAX_PAUSE_DAYS = 366
MONTH_DAY = re.compile(r"^(\d{1,2})\s*[/月]\s*(\d{1,2})\s*日?$")


def parse_until(text: str, today: date) -> date:
    """The day a pause ends: `2027-01-12`, `2027/1/12`, `1/12` or `1月12日` (the next such day),
    `明日` / `tomorrow`. Bad, past and far dates raise a UserFacingError."""
    word = unicodedata.normalize("NFKC", text).strip().removesuffix("まで").strip()
    found = MONTH_DAY.match(word)
    try:
        if found:
            month, day = int(found[1]), int(found[2])
            until = date(today.year, month, day)
            if until <= today:
                until = date(today.year + 1, month, day)
        else:
            until = forms.parse_date(word, today)
    except (ValueError, forms.FieldError):
        raise UserFacingError("pause.bad_date", value=text[:40]) from None
    if until <= today:
        raise UserFacingError("pause.date_past", date=until.isoformat())
    if (until - today).days > MAX_PAUSE_DAYS:
        raise UserFacingError("pause.date_too_far", days=MAX_PAUSE_DAYS)
    return until


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """When `day` begins where the person is, in UTC: the moment a pause until it ends."""
    return datetime.combine(day, time.min, zone).astimezone(UTC)


async def pause(ctx: Context, msg: Incoming) -> Reply:
    """`pause` toggles: nothing proactive while paused (it waits; it is not dropped).
    `pause until DATE` pauses to that day and resumes by itself (`resume_due`)."""
    p = ctx.me
    args = [a for a in msg.args if a.lower() not in UNTIL_WORDS]
    if args:
        until = parse_until(" ".join(args), ctx.today)
        p.paused = True
        p.paused_until = local_midnight(until, ctx.zone)
        p.updated_at = ctx.now
        await ctx.audit("pause", f"person:{p.id}", until=until.isoformat())
        return Reply(ctx.t("pause.until", date=ctx.t.date(until), command=ctx.command("pause")))
    p.paused = not p.paused
    p.paused_until = None
    p.updated_at = ctx.now
    await ctx.audit("pause" if p.paused else "resume", f"person:{p.id}")
    return Reply(ctx.t("pause.on" if p.paused else "pause.off"))


async def resume_due(services: Services) -> int:
    """Every minute: people whose `pause until` day has come are resumed (audited)."""
    now = services.clock.now()
    async with services.db.transaction() as session:
        resumed = await people.resume_due(session, now)
        for pid in resumed:
            await audit.record(session, now, None, "resume", f"person:{pid}", reason="until")
    return len(resumed)


async def mydata(ctx: Context, msg: Incoming) -> Reply:
    data = await privacy.export(ctx.session, ctx.me)
    body = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    return Reply(
        ctx.t("mydata.ready"),
        attachment=Attachment(f"mydata-{ctx.me.id}.json", body, "application/json"),
        private_only=True,
    )


async def forgetme(ctx: Context, msg: Incoming) -> Reply:
    return Reply(
        ctx.t("forget.confirm"),
        buttons=(
            (
                Button(ctx.t("forget.yes"), "privacy.forget", "yes", style="danger"),
                Button(ctx.t("forget.no"), "privacy.forget", "no"),
            ),
        ),
    )


async def forget(ctx: Context, msg: Incoming) -> Reply:
    if msg.payload != "yes":
        return Reply(ctx.t("forget.kept"))
    person = ctx.me
    if person.is_forgotten:
        raise UserFacingError("error.not_joined")
    await ctx.audit("forgetme", f"person:{person.id}")
    await privacy.forget(ctx.session, person, ctx.now)
    return Reply(ctx.t("forget.done"))
