"""The engagement review for HR and admins: `stats`, `report`, charts and CSV files of its
sections, `audit` and `export` (issue 9).

Who sees what: HR and admins see aggregates (`stats`, `report`, its charts and CSV tables:
groups under five people are hidden); only admins see individuals (`export`, `audit`).
Everyone else is refused by the router, which audits the refusal. Every view and file is
audited here.

Commands: stats, report [SECTION] [FROM] [TO] [SEGMENT] (HR), audit [FILTERS], export KIND FROM
TO (admin). Buttons: report.chart and report.csv carry `<section>:<audit entry id>`: the
audited `report` view whose range and segment they redraw (bare `<section>`: the default
range), report.open (the full report)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.core.i18n import Translator
from bot.core.normalize import number
from bot.core.platforms import PLATFORMS
from bot.core.types import Attachment, Button, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from handlers import report_charts as charts
from handlers import report_tables as tables
from storage import auditlog, people, quota
from storage.models import AuditEntry, Role
from storage.reports import exports
from storage.reports import invitations as invitation_funnel
from storage.reports.filter import BadFilter, Filter, make_filter, parse_date
from storage.reports.stats import Stats
from storage.reports.stats import stats as compute_stats

VIEW = "report_view"
STATS_CAMPAIGNS = 3  # the latest invitation campaigns' funnels in `stats`
PNG, CSV = "image/png", "text/csv"


def _filter(ctx: Context, start: str | None, end: str | None, segment: str | None) -> Filter:
    try:
        return make_filter(ctx.today, start, end, segment, zone=ctx.settings.default_timezone)
    except BadFilter as exc:
        raise UserFacingError(exc.key, **exc.params) from None


def _admin(ctx: Context) -> bool:
    """Tables that name people (the ROI ledger) are for admins; HR sees the aggregates."""
    return ctx.has_role(Role.ADMIN)


def parse_report_args(args: tuple[str, ...]) -> tuple[str | None, list[str], str | None]:
    """`report [section] [from] [to] [segment]`, in any order: (section, dates, segment)."""
    section: str | None = None
    dates: list[str] = []
    segment: str | None = None
    for arg in args:
        word = arg.strip()
        if word.lower() in tables.SECTIONS and section is None:
            section = word.lower()
        elif word[:1].isdigit() and len(dates) < 2:
            dates.append(word)
        elif (":" in word or word.lower() in ("all", "comeback")) and segment is None:
            segment = word
        else:
            raise UserFacingError("admin.report_usage", sections=", ".join(tables.SECTIONS))
    return section, dates, segment


# -- stats ------------------------------------------------------------------------------------


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def stats_text(ctx: Context, s: Stats) -> str:
    return "\n".join(stats_lines(ctx.t, ctx.today, s))


def stats_lines(t: Translator, today: date, s: Stats) -> list[str]:
    """The `stats` figures, a line each (chat joins them; the web console lists them)."""
    channels = " · ".join(f"{name} {n}" for name, n in sorted(s.channels.items())) or "—"
    change = s.interactions_this_month - s.interactions_last_month
    lines = [
        t("admin.stats.title", date=t.date(today)),
        t("admin.stats.alumni", alumni=s.alumni, joined=s.joined, channels=channels),
        t("admin.stats.active", d30=s.active_30, d90=s.active_90),
        t("admin.stats.interactions", this=s.interactions_this_month,
          last=s.interactions_last_month, change=f"{change:+d}"),
        t("admin.stats.checkins", rate=_rate(s.checkins_answered, s.checkins_sent),
          answered=s.checkins_answered, sent=s.checkins_sent),
    ]  # fmt: skip
    if s.index is None:
        lines.append(t("admin.stats.no_index"))
    else:
        previous = "—" if s.index_previous is None else f"{s.index_previous:.2f}"
        trend = "—" if s.index_previous is None else f"{s.index - s.index_previous:+.2f}"
        lines.append(
            t("admin.stats.index", period=s.index_period, index=f"{s.index:.2f}",
              answers=s.index_answers, previous=previous, trend=trend)
        )  # fmt: skip
    states = s.broadcast_states
    lines += [
        t("admin.stats.jobs", openings=s.open_openings, interested=s.interested,
          referrals=s.referrals, rehires=s.rehires),
        t("admin.stats.events", events=s.events, rate=_rate(s.event_attended, s.event_going),
          attended=s.event_attended, going=s.event_going),
        t("admin.stats.perks", claims=s.perk_claims),
        t("admin.stats.broadcasts", sent=states.get("sent", 0), failed=states.get("dead", 0),
          waiting=sum(n for k, n in states.items() if k not in ("sent", "dead"))),
    ]  # fmt: skip
    return lines


async def monthly_sends(ctx: Context) -> list[str]:
    """This month's sends of each configured platform that is metered by a monthly plan (or
    that counted some without a limit set)."""
    wanted = [p for p in PLATFORMS if p.adapter and p.configured(ctx.settings)]
    used = await quota.used(ctx.session, [p.name for p in wanted], quota.month_of(ctx.now))
    lines: list[str] = []
    for p in wanted:
        q, n = p.quota(ctx.settings), used[p.name]
        place = ctx.t(f"bridge.place_{p.name}", workspace="")
        if q is not None and q.limit is not None:
            share = f"{100 * n / q.limit:.0f}"
            lines.append(ctx.t("admin.stats.monthly_sends", place=place, used=n, limit=q.limit,
                               share=share))  # fmt: skip
        elif q is not None or n:
            lines.append(ctx.t("admin.stats.monthly_sends_unlimited", place=place, used=n))
    return lines


async def stats(ctx: Context, msg: Incoming) -> Reply:
    s = await compute_stats(ctx.session, ctx.now, ctx.timezone)
    latest = await invitation_funnel.funnels(ctx.session, limit=STATS_CAMPAIGNS)
    text = "\n".join([stats_text(ctx, s), *await monthly_sends(ctx)])
    await ctx.audit("stats_view")
    buttons = (
        Button(ctx.t("admin.chart_button", section=ctx.t("admin.section.activity")),
               "report.chart", "activity"),
        Button(ctx.t("admin.report_button"), "report.open"),
    )  # fmt: skip
    if latest:
        text += "\n\n" + tables.as_text(tables.invitations_table(ctx.t, latest))
    return Reply(text, buttons=(buttons,), private_only=True)


async def home_section(ctx: Context) -> list[Reply]:
    """The admin part of the home page: the summary, and the latest chart (a button that sends
    it, as the Home tab cannot show files)."""
    s = await compute_stats(ctx.session, ctx.now, ctx.timezone)
    last = await auditlog.latest_of(ctx.session, ctx.me.id, "report_chart")
    payload = str((last.detail or {}).get("payload", "activity")) if last else "activity"
    section = payload.split(":")[0]
    buttons = (
        Button(ctx.t("admin.latest_chart_button",
                     section=ctx.t(f"admin.section.{section}")), "report.chart", payload),
        Button(ctx.t("admin.report_button"), "report.open"),
    )  # fmt: skip
    return [Reply(stats_text(ctx, s), buttons=(buttons,), private_only=True)]


# -- report -----------------------------------------------------------------------------------


def _section_buttons(ctx: Context, section: str, view_id: int) -> tuple[Button, ...]:
    name = ctx.t(f"admin.section.{section}")
    payload = f"{section}:{view_id}"
    return (
        Button(ctx.t("admin.chart_button", section=name)[:75], "report.chart", payload),
        Button(ctx.t("admin.csv_button", section=name)[:75], "report.csv", payload),
    )


async def report(ctx: Context, msg: Incoming) -> Reply:
    section, dates, segment = parse_report_args(msg.args if msg.command else ())
    start = dates[0] if dates else None
    end = dates[1] if len(dates) > 1 else None
    f = _filter(ctx, start, end, segment)
    chosen = (section,) if section else tables.SECTIONS
    built = await tables.build(ctx.session, f, ctx.t, chosen, individuals=_admin(ctx))
    await ctx.audit(VIEW, section or "all", start=f.start.isoformat(), end=f.end.isoformat(),
                    segment=str(f.segment))  # fmt: skip
    await ctx.session.flush()
    view_id = await ctx.session.scalar(
        select(func.max(AuditEntry.id)).where(
            AuditEntry.actor_id == ctx.me.id, AuditEntry.action == VIEW
        )
    )
    assert view_id is not None
    header = ctx.t("admin.report_title", range=f.describe(), days=f.days)
    body = "\n\n".join(tables.as_text(tb) for tb in built)
    rows = tuple(_section_buttons(ctx, s, view_id) for s in chosen)
    return Reply(f"{header}\n\n{body}", buttons=rows, private_only=True)


async def _view_filter(ctx: Context, payload: str) -> tuple[str, Filter]:
    section, _, view = payload.partition(":")
    if section not in tables.SECTIONS:
        raise UserFacingError("error.expired_button")
    if not view:
        return section, _filter(ctx, None, None, None)
    view_id = number(view)
    entry = await auditlog.get(ctx.session, view_id) if view_id else None
    if entry is None or entry.action != VIEW or entry.actor_id != ctx.me.id:
        raise UserFacingError("error.expired_button")
    d: dict[str, Any] = entry.detail or {}
    return section, _filter(ctx, d.get("start"), d.get("end"), d.get("segment"))


def _file_name(section: str, f: Filter, ext: str) -> str:
    return f"report-{section}-{f.start:%Y%m%d}-{f.end:%Y%m%d}.{ext}"


async def chart(ctx: Context, msg: Incoming) -> Reply:
    section, f = await _view_filter(ctx, msg.payload)
    built = await tables.build(ctx.session, f, ctx.t, (section,), individuals=_admin(ctx))
    title = f"{ctx.t(f'admin.section.{section}')} ({f.describe()})"
    png = await charts.render_async(title, built, ctx.t("admin.chart_empty"))
    await ctx.audit("report_chart", section, payload=msg.payload, segment=str(f.segment))
    attachment = Attachment(_file_name(section, f, "png"), png, PNG, is_image=True)
    return Reply(title, attachment=attachment, private_only=True)


async def table_csv(ctx: Context, msg: Incoming) -> Reply:
    section, f = await _view_filter(ctx, msg.payload)
    built = await tables.build(ctx.session, f, ctx.t, (section,), individuals=_admin(ctx))
    await ctx.audit("report_csv", section, payload=msg.payload, segment=str(f.segment))
    attachment = Attachment(_file_name(section, f, "csv"), tables.as_csv(built), CSV)
    title = f"{ctx.t(f'admin.section.{section}')} ({f.describe()})"
    return Reply(title, attachment=attachment, private_only=True)


# -- audit and export (admins: these name individuals) ----------------------------------------


async def audit(ctx: Context, msg: Incoming) -> Reply:
    """`audit [actor:EMAIL] [action:NAME] [from:DATE] [to:DATE] [refused]`."""
    t, zone = ctx.t, ctx.zone
    options: dict[str, Any] = {}
    for arg in msg.args:
        key, _, value = arg.partition(":")
        key = key.lower()
        if key == "refused" and not value:
            options["refused_only"] = True
        elif key == "actor" and value:
            person = await people.person_by_email(ctx.session, value)
            if person is None:
                raise UserFacingError("admin.audit_unknown_actor", email=value[:80])
            options["actor_id"] = person.id
        elif key == "action" and value:
            options["action"] = value[:60]
        elif key in ("from", "to") and value:
            day = _parse(value)
            moment = datetime.combine(day + timedelta(days=key == "to"), time.min, zone)
            options["since" if key == "from" else "until"] = moment.astimezone(UTC)
        else:
            raise UserFacingError("admin.audit_usage")
    entries = await auditlog.latest(ctx.session, **options)
    await ctx.audit("audit_view", None, filters=list(msg.args))
    if not entries:
        return Reply(t("admin.audit_none"), private_only=True)
    lines = [t("admin.audit_title", n=len(entries))]
    for e in entries:
        when = e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        mark = "✓" if e.allowed else "✗"
        who = e.actor or t("admin.audit_system")
        target = f" {e.target}" if e.target else ""
        lines.append(f"{mark} {when} · {who} · {e.action}{target}")
    return Reply("\n".join(lines), private_only=True)


def _parse(text: str) -> date:
    try:
        return parse_date(text)
    except BadFilter as exc:
        raise UserFacingError(exc.key, **exc.params) from None


async def export(ctx: Context, msg: Incoming) -> Reply:
    """`export KIND FROM TO`: a CSV file of individuals' rows (never forgotten people)."""
    if len(msg.args) != 3:
        raise UserFacingError("admin.export_usage", kinds=", ".join(exports.KINDS))
    kind = msg.args[0].lower()
    if kind not in exports.KINDS:
        raise UserFacingError("admin.export_bad_kind", kind=kind[:30],
                              kinds=", ".join(exports.KINDS))  # fmt: skip
    f = _filter(ctx, msg.args[1], msg.args[2], None)
    data, count = await exports.to_bytes(ctx.session, kind, f)
    await ctx.audit("export", kind, start=f.start.isoformat(), end=f.end.isoformat(), rows=count,
                    via="chat")  # fmt: skip
    name = f"{kind}-{f.start:%Y%m%d}-{f.end:%Y%m%d}.csv"
    text = ctx.t("admin.export_done", kind=kind, rows=count, start=f.start.isoformat(),
                 end=f.end.isoformat())  # fmt: skip
    return Reply(text, attachment=Attachment(name, data, CSV), private_only=True)
