"""The engagement report as localised tables: one shape that chat text, the command line's rich
tables, PNG charts and CSV files are all drawn from (handlers/admin.py, bot/cli/report.py).

Channel-neutral and platform-free. A cell is a number or text; None is a hidden or empty cell
(groups of fewer than five people are hidden, storage/reports/sections.py)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.i18n import Translator
from bot.core.markup import bold
from bot.core.spreadsheet import safe_row
from handlers.outcomes import roi_tables
from handlers.report_cells import Cell as Cell
from handlers.report_cells import Table as Table
from handlers.report_cells import cell as cell
from handlers.report_cells import pct as pct
from storage.reports import facts as report_facts
from storage.reports import funnels as outcomes
from storage.reports import invitations as invitation_funnel
from storage.reports import roi as report_roi
from storage.reports import sections as reports
from storage.reports.filter import Filter

SECTIONS = ("activity", "consciousness", "index", "funnel", "events", "perks", "broadcasts",
            "invitations", "roi")  # fmt: skip
PEOPLE_SECTIONS = frozenset({"activity", "consciousness", "index", "roi"})


async def build(
    session: AsyncSession,
    f: Filter,
    t: Translator,
    sections: tuple[str, ...] = SECTIONS,
    *,
    individuals: bool = False,
) -> list[Table]:
    """The tables of the chosen sections, in SECTIONS order; `individuals` (admins only) adds
    the tables that name people, such as the ROI section's ledger."""
    out: list[Table] = []
    roi_found: list[Table] = []  # drawn with the people sections, shown last
    if PEOPLE_SECTIONS.intersection(sections):
        async with report_facts.facts(session, f):
            if "activity" in sections:
                out += _activity(t, await reports.activity(session, f))
            if "consciousness" in sections:
                out += _consciousness(t, await reports.consciousness(session, f))
            if "index" in sections:
                out += _index(t, await reports.index_by(session, f))
            if "roi" in sections:
                found = await report_roi.roi(session, f, individuals)
                roi_found = roi_tables(t, found, await outcomes.funnel(session, f))
    if "funnel" in sections:
        out += _funnel(t, await outcomes.funnel(session, f))
    if "events" in sections:
        out += _events(t, await outcomes.turnout(session, f))
    if "perks" in sections:
        out += _perks(t, await outcomes.perk_use(session, f))
    if "broadcasts" in sections:
        out += _broadcasts(t, await outcomes.reach(session, f))
    if "roi" in sections:
        out += roi_found
    if "invitations" in sections:
        campaigns = await invitation_funnel.funnels(session, since=f.since, until=f.until)
        out += [invitations_table(t, campaigns)]
    return out


def _hidden_note(t: Translator, hidden: bool) -> str:
    return t("admin.hidden_note", n=reports.MIN_GROUP) if hidden else ""


def _activity(t: Translator, a: reports.Activity) -> list[Table]:
    columns = (
        "",
        t("admin.col.people"),
        t("admin.col.colleague_in_person"),
        t("admin.col.colleague_online"),
        t("admin.col.manager_in_person"),
        t("admin.col.manager_online"),
        t("admin.col.total"),
    )
    out = []
    for key, groups in (
        ("admin.table.activity_overall", [a.overall]),
        ("admin.table.by_department", a.by_department),
        ("admin.table.by_title", a.by_title),
    ):
        rows = tuple(
            (g.label or (t("admin.everyone") if g is a.overall else t("admin.unknown")),
             g.people, g.colleague_in_person, g.colleague_online, g.manager_in_person,
             g.manager_online, g.total)
            for g in groups
        )  # fmt: skip
        note = _hidden_note(t, any(g.hidden and g.people for g in groups))
        out.append(Table("activity", t(key), columns, rows, (2, 3, 4, 5), note))
    return out


def _consciousness(t: Translator, found: list[reports.Correlation]) -> list[Table]:
    columns = ("", t("admin.col.respondents"), t("admin.col.index"))
    out = []
    for c in found:
        rows = tuple((t("admin.bucket", label=b.label), b.people, b.index) for b in c.buckets)
        if c.rho is None:
            rho = t("admin.rho_hidden", people=c.people, n=reports.MIN_GROUP)
        else:
            rho = t("admin.rho", rho=f"{c.rho:+.2f}", people=c.people)
        hidden = _hidden_note(t, any(b.index is None and b.people for b in c.buckets))
        note = "\n".join(x for x in (rho, hidden) if x)
        title = t(f"admin.table.consciousness_{c.series}")
        out.append(Table("consciousness", title, columns, rows, (2,), note))
    return out


def _group_label(t: Translator, dimension: str, label: str) -> str:
    if not label:
        return t("admin.unknown")
    if dimension == "tenure":
        return t(f"admin.tenure.{label}")
    if dimension == "join_route" and label in ("new_grad", "mid_career"):
        return t(f"admin.route.{label}")
    if dimension == "months":
        return t("admin.months", label=label)
    return label


def _index(t: Translator, found: list[reports.IndexBreakdown]) -> list[Table]:
    columns = ("", t("admin.col.respondents"), t("admin.col.index"))
    out = []
    for d in found:
        rows = tuple((_group_label(t, d.dimension, g.label), g.people, g.index) for g in d.groups)
        note = _hidden_note(t, any(g.index is None and g.people for g in d.groups))
        out.append(Table("index", t(f"admin.table.index_{d.dimension}"), columns, rows, (2,), note))
    return out


def _funnel(t: Translator, f: outcomes.Funnel) -> list[Table]:
    answers = ("open", "maybe", "not_now", "unknown")
    comeback = Table(
        "funnel",
        t("admin.table.comeback"),
        ("", t("admin.col.people")),
        tuple((t(f"admin.comeback.{a}"), f.comeback.get(a, 0)) for a in answers),
        (1,),
    )
    rows: list[tuple[Cell, ...]] = [
        (t("admin.stage.matched"), None, f.matched),
        (t("admin.stage.interested"), None, f.interested),
    ]
    for i, stage in enumerate(outcomes.STAGES):
        rows.append(
            (t(f"admin.stage.{stage}"), f.referrals["referral"][i], f.referrals["interest"][i])
        )
    rows.append((t("admin.stage.declined"), f.declined["referral"], f.declined["interest"]))
    pipeline = Table(
        "funnel",
        t("admin.table.funnel"),
        ("", t("admin.col.referrals"), t("admin.col.interests")),
        tuple(rows),
        (1, 2),
        t("admin.rehires", n=f.rehires),
    )
    return [comeback, pipeline]


def _events(t: Translator, e: outcomes.Turnout) -> list[Table]:
    rate = pct(e.attended, e.going)
    note = t(
        "admin.events_total",
        events=e.events,
        going=e.going,
        attended=e.attended,
        rate=cell(rate),
    )
    rows = tuple(
        (f"{r.title} ({r.day})", r.going, r.attended, r.maybe, r.waitlist, r.capacity)
        for r in e.rows
    )
    columns = (
        "",
        t("admin.col.going"),
        t("admin.col.attended"),
        t("admin.col.maybe"),
        t("admin.col.waitlist"),
        t("admin.col.capacity"),
    )
    return [Table("events", t("admin.table.events"), columns, rows, (1, 2), note)]


def _perks(t: Translator, p: outcomes.PerkUse) -> list[Table]:
    note = t("admin.perks_total", claims=p.claims, people=p.claimers)
    rows = tuple((r.title, r.claims) for r in p.rows)
    return [Table("perks", t("admin.table.perks"), ("", t("admin.col.claims")), rows, (1,), note)]


def _broadcasts(t: Translator, r: outcomes.Reach) -> list[Table]:
    note = t(
        "admin.broadcasts_total",
        broadcasts=r.broadcasts,
        queued=r.queued,
        sent=r.sent,
        failed=r.failed,
        clickers=r.clickers,
        delivered=cell(pct(r.sent, r.queued)),
        clicked=cell(pct(r.clickers, r.sent)),
    )
    rows = tuple(
        (f"#{b.id} {b.day} ({b.segment})", b.queued, b.sent, b.failed, b.clickers) for b in r.rows
    )
    columns = (
        "",
        t("admin.col.queued"),
        t("admin.col.sent"),
        t("admin.col.failed"),
        t("admin.col.clicked"),
    )
    return [Table("broadcasts", t("admin.table.broadcasts"), columns, rows, (2, 4), note)]


def invitations_table(
    t: Translator, found: list[invitation_funnel.Funnel], zone: ZoneInfo | None = None
) -> Table:
    """The invitation campaigns' funnels (also in `stats` and `reach`), each dated in `zone`
    (the reader's; UTC, as stored, when not given)."""
    rows = tuple(
        (f"#{c.id} {_in_zone(c.created_at, zone):%Y-%m-%d} ({c.segment})", c.invited,
         c.delivered, c.bounced, c.unsubscribed, c.joined, c.consented)
        for c in found
    )  # fmt: skip
    columns = ("", *(t(f"invitations.col.{k}") for k in FUNNEL_COLUMNS))
    places = [
        t("invitations.joined_where", id=c.id,
          places=" · ".join(f"{name} {n}" for name, n in sorted(c.where.items())))
        for c in found
        if c.where
    ]  # fmt: skip
    return Table("invitations", t("invitations.table"), columns, rows, (1, 2, 5), "\n".join(places))


def _in_zone(moment: datetime, zone: ZoneInfo | None) -> datetime:
    return moment.astimezone(zone) if zone is not None else moment


FUNNEL_COLUMNS = ("invited", "delivered", "bounced", "unsubscribed", "joined", "consented")


# -- renderings ---------------------------------------------------------------------------------


def as_text(table: Table) -> str:
    lines = [bold(table.title)]
    if not table.rows:
        lines.append("—")
    for row in table.rows:
        values = " · ".join(
            f"{name} {cell(v)}" for name, v in zip(table.columns[1:], row[1:], strict=True)
        )
        lines.append(f"• {cell(row[0])}: {values}")
    if table.note:
        lines.append(table.note)
    return "\n".join(lines)


def as_csv(tables: list[Table]) -> bytes:
    """Every table one after the other (title row, header, rows, blank line); UTF-8 with BOM."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for table in tables:
        writer.writerow(safe_row([table.title]))
        writer.writerow(safe_row([table.columns[0] or "-", *table.columns[1:]]))
        for row in table.rows:
            writer.writerow(safe_row("" if v is None else cell(v) for v in row))
        if table.note:
            writer.writerows([safe_row([line]) for line in table.note.splitlines()])
        writer.writerow([])
    return buffer.getvalue().encode("utf-8-sig")
