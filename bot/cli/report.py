"""`alumni-bot report [--from DATE] [--to DATE] [--chart DIR]` and `alumni-bot export KIND --from
DATE --to DATE FILE.csv` (docs/contracts.md). Registered by bot/cli/__init__.py, which owns
the parser and the error handling (one line on stderr, non-zero exit)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.table import Table as RichTable

from bot.cli.common import CommandFailed, err, out, with_app
from bot.cli.delivery import SEGMENT_HELP
from bot.core import markup
from bot.runtime.app import App
from handlers import report_charts as charts
from handlers import report_tables as tables
from storage import audit
from storage.reports import exports
from storage.reports.filter import BadFilter, Filter, make_filter


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report", help="the engagement report (rich tables; PNG charts with --chart)"
    )
    p.add_argument("--from", dest="start", metavar="DATE", help="first day (default: a year ago)")
    p.add_argument("--to", dest="end", metavar="DATE", help="last day (default: today)")
    p.add_argument("--segment", default="all", metavar="SEG", help=SEGMENT_HELP)
    p.add_argument("--section", choices=tables.SECTIONS, help="one section (default: all)")
    p.add_argument("--chart", metavar="DIR", help="also write one PNG chart a section into DIR")
    p.add_argument("--lang", choices=["ja", "en"], help="language (default: the bot's)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export", help="a CSV file (UTF-8 with BOM) for a date range")
    p.add_argument("kind", metavar="KIND", help=" | ".join(exports.KINDS))
    p.add_argument("--from", dest="start", required=True, metavar="DATE")
    p.add_argument("--to", dest="end", required=True, metavar="DATE")
    p.add_argument("file", metavar="FILE.csv")
    p.set_defaults(func=cmd_export)


def _filter(app: App, start: str | None, end: str | None, segment: str | None) -> Filter:
    zone = app.settings.default_timezone
    today = app.clock.now().astimezone(ZoneInfo(zone)).date()
    try:
        return make_filter(today, start, end, segment, zone=zone)
    except BadFilter as exc:
        raise CommandFailed(app.catalogs.text("en", exc.key, **exc.params), 2) from None


def cmd_report(args: argparse.Namespace) -> int:
    folder = Path(args.chart) if args.chart else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise CommandFailed(f"--chart {folder}: not a folder", 2)

    async def work(app: App) -> int:
        f = _filter(app, args.start, args.end, args.segment)
        t = app.catalogs.translator(args.lang or app.settings.default_locale)
        sections = (args.section,) if args.section else tables.SECTIONS
        async with app.db.transaction() as session:
            built = await tables.build(session, f, t, sections, individuals=True)
            await audit.record(session, app.clock.now(), None, "report_view", args.section or "all",
                               start=f.start.isoformat(), end=f.end.isoformat(),
                               segment=str(f.segment), via="cli")  # fmt: skip
        out.print(markup.plain(t("admin.report_title", range=f.describe(), days=f.days)))
        for table in built:
            out.print(_rich(table))
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            for section in sections:
                title = f"{t(f'admin.section.{section}')} ({f.describe()})"
                mine = [tb for tb in built if tb.section == section]
                path = folder / f"report-{section}-{f.start:%Y%m%d}-{f.end:%Y%m%d}.png"
                path.write_bytes(await charts.render_async(title, mine, t("admin.chart_empty")))
                err.print(f"chart: {path}")
        return 0

    return asyncio.run(with_app(work))


def _rich(table: tables.Table) -> RichTable:
    out = RichTable(title=table.title, caption=table.note or None, title_justify="left")
    for i, name in enumerate(table.columns):
        out.add_column(name or "", justify="left" if i == 0 else "right")
    for row in table.rows:
        out.add_row(*(tables.cell(v) for v in row))
    return out


def cmd_export(args: argparse.Namespace) -> int:
    kind = args.kind.lower()
    if kind not in exports.KINDS:
        raise CommandFailed(
            f"cannot export {args.kind!r}: KIND is one of {', '.join(exports.KINDS)}", 2
        )
    path = Path(args.file)
    if not path.parent.is_dir():
        raise CommandFailed(f"no such folder: {path.parent}", 2)

    async def work(app: App) -> int:
        f = _filter(app, args.start, args.end, None)
        async with app.db.transaction() as session:
            count = await exports.to_file(session, kind, f, path)
            await audit.record(
                session,
                app.clock.now(),
                None,
                "export",
                kind,
                start=f.start.isoformat(),
                end=f.end.isoformat(),
                rows=count,
                via="cli",
            )
        out.print(f"{kind}: {count} rows from {f.start} to {f.end} written to {path}")
        return 0

    return asyncio.run(with_app(work))
