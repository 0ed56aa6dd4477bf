"""`alumni-bot invite --all [--segment SEG] [--yes]` (docs/contracts.md): queue an invitation mail
for everyone in the segment (default: alumni) not yet in the network. The parser is
bot/cli/__init__.py's `invite`; the worker sends the mails."""

from __future__ import annotations

import argparse
import asyncio
import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli.common import CommandFailed, err, out, with_app
from bot.cli.delivery import SEGMENT_HELP
from bot.core.platforms import mail_configured, mail_off
from bot.runtime.app import App
from handlers import invitations as feature
from storage import audit, campaigns
from storage.models import Campaign
from storage.segments import BadSegment


def invite_all(args: argparse.Namespace) -> int:
    try:
        segment = feature.parse(args.segment or "")
    except BadSegment:
        raise CommandFailed(f"bad segment {args.segment!r}: use {SEGMENT_HELP}", 2) from None

    async def work(app: App) -> int:
        if not mail_configured(app.settings):
            raise CommandFailed(mail_off() + " to invite by mail", 2)
        now = app.clock.now()
        async with app.db.transaction() as session:
            counts = await campaigns.preview(session, segment, now)
        t = app.catalogs.translator("en")
        for text in feature.preview_lines(t, segment, counts):
            out.print(text)
        total = counts["eligible"]
        if total == 0:
            out.print("nobody to invite: nothing queued")
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                raise CommandFailed(
                    f"refusing to invite {total} people without --yes (no terminal to ask)", 2
                )
            answer = await asyncio.to_thread(input, f"Invite {total} people by mail? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                out.print("nothing queued")
                return 1
        columns = (TextColumn("queuing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("queuing", total=total)
            async with app.db.transaction() as session:
                campaign = Campaign(segment=str(segment), status="draft", created_at=now)
                session.add(campaign)
                await session.flush()
                queued = await feature.queue(
                    session, app.catalogs, app.settings, campaign, now,
                    progress=lambda n: progress.update(task, completed=n),
                )  # fmt: skip
                await audit.record(
                    session, now, None, "invite_all", f"campaign:{campaign.id}",
                    segment=str(segment), invited=queued, via="cli",
                )  # fmt: skip
        out.print(
            f"campaign #{campaign.id}: {queued} invitation mails queued for segment {segment};"
            " a worker sends them (alumni-bot worker)"
        )
        return 0

    return asyncio.run(with_app(work))
