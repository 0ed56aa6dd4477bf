"""The alumni-consciousness pulse: three 1–5 items, one tap each; the index is their mean.

Would work with the company or former colleagues again; wants to keep in touch; would use or
recommend its services. Asked every six months by default (settings.checkins.survey_months);
`survey` answers now. One answer per person and period (2026H2): a later tap replaces it.

Command: survey. Buttons: survey.answer. Scheduled work: tick_surveys (bot/runtime/scheduler.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import mean

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import local_date
from bot.core.i18n import Translator
from bot.core.types import Button, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from bot.dispatch.services import Services
from handlers import checkins
from storage import engagement
from storage.models import OutboxKind, Person, SurveyResponse
from storage.outbox import enqueue_many, insert_ignore
from storage.schedule import add_months, at_local, period_of

ITEMS = ("rejoin", "keep_in_touch", "recommend")
INDEXES = {str(i) for i in range(len(ITEMS))}  # what a button may carry
SCORES = {str(n) for n in range(1, 6)}


def question(t: Translator, index: int, intro: str = "") -> Reply:
    item = ITEMS[index]
    text = f"{intro}\n\n" if intro else ""
    text += f"({index + 1}/{len(ITEMS)}) {t(f'survey.q.{item}')}\n{t('survey.scale')}"
    row = tuple(Button(str(n), "survey.answer", f"{index}:{n}") for n in range(1, 6))
    return Reply(text, buttons=(row,))


async def response_for(
    session: AsyncSession, person_id: int, period: str, now: datetime
) -> SurveyResponse:
    """This period's answer row, created once even if two taps race."""
    await session.execute(
        insert_ignore(session, SurveyResponse.__table__).values(
            person_id=person_id, period=period, answered_at=now
        )
    )
    query = select(SurveyResponse).where(
        SurveyResponse.person_id == person_id, SurveyResponse.period == period
    )
    return (await session.scalars(query.execution_options(populate_existing=True))).one()


async def survey(ctx: Context, msg: Incoming) -> Reply:
    period = period_of(ctx.now, ctx.zone)
    done = await ctx.session.scalar(
        select(SurveyResponse).where(
            SurveyResponse.person_id == ctx.me.id, SurveyResponse.period == period
        )
    )
    again = done is not None and all(getattr(done, i) is not None for i in ITEMS)
    return question(ctx.t, 0, ctx.t("survey.again" if again else "survey.intro"))


async def answer(ctx: Context, msg: Incoming) -> Reply:
    index, _, score = msg.payload.partition(":")
    if index not in INDEXES or score not in SCORES:
        raise UserFacingError("error.expired_button")
    response = await response_for(ctx.session, ctx.me.id, period_of(ctx.now, ctx.zone), ctx.now)
    setattr(response, ITEMS[int(index)], int(score))
    response.answered_at = ctx.now
    if int(index) + 1 < len(ITEMS):
        return question(ctx.t, int(index) + 1)
    scores = [getattr(response, i) for i in ITEMS if getattr(response, i) is not None]
    return Reply(ctx.t("survey.thanks", index=f"{mean(scores):.1f}"))


async def tick_surveys(app: Services) -> int:
    """Queue the pulse for alumni whose time has come; newcomers get theirs two weeks after
    joining, so it does not arrive together with their first check-in."""
    now, settings = app.clock.now(), app.settings.checkins
    column = Person.next_survey_at
    await engagement.schedule_newcomers(
        app.db, column, engagement.SURVEY, settings.batch_size, lambda r: _at(app, r, now, days=14)
    )

    async def batch() -> tuple[int, int]:
        async with app.db.transaction() as session:
            rows = await engagement.due(
                session, column, engagement.SURVEY, now, settings.batch_size
            )
            messages = []
            nexts: list[tuple[int, datetime | None]] = []
            for r in rows:
                moved = checkins.moved_off_a_day_off(app, r, now)  # a holiday: the next workday
                nexts.append((r.id, moved or _at(app, r, now, months=settings.survey_months)))
                if moved is not None or r.paused or "surveys" in r.opt_outs:
                    continue
                t = app.translator_for(r)
                key = f"survey:{r.id}:{period_of(now, app.zone_for(r))}"
                messages.append((r.id, key, question(t, 0, t("survey.intro")).to_dict()))
            await enqueue_many(session, messages, kind=OutboxKind.SURVEY, now=now)
            await engagement.reschedule(session, column, nexts)
        return len(rows), len(messages)

    return await engagement.drain(app.db, batch, settings.batch_size)


def _at(
    app: Services, row: engagement.Due, now: datetime, *, days: int = 0, months: int = 0
) -> datetime:
    zone, window = app.zone_for(row), app.settings.checkins
    day = add_months(local_date(now, zone), months) + timedelta(days=days)
    day = app.workdays_for(row).next_working(day)
    return at_local(day, row.local_minute(window.window_start, window.window_end), zone)
