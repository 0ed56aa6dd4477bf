"""`alumni-bot offboard EMAIL DATE`: mark a person as leaving on DATE; their managers get a guide
to the exit conversation and the leaver an invitation to the alumni network (handlers/bridge.py,
through the outbox: offboarding twice sends once). Registered by bot/cli/__init__.py."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import CommandFailed, out, with_app
from bot.runtime.app import App


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "offboard", help="mark a person as leaving: exit-conversation guide and alumni invite"
    )
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("date", metavar="DATE", help="last day, ISO 8601 (2026-12-31)")
    p.set_defaults(func=cmd_offboard)


def cmd_offboard(args: argparse.Namespace) -> int:
    from handlers import bridge

    async def work(app: App) -> int:
        try:
            async with app.db.transaction() as session:
                person, done = await bridge.offboard_person(
                    session, app.catalogs, app.settings, args.email, args.date, app.clock.now()
                )
        except bridge.OffboardError as exc:
            raise CommandFailed(app.catalogs.text("en", exc.key, **exc.params), 2) from None
        if not done.invited:
            what = "already offboarded"
        elif done.reachable:
            what = f"invitation queued (code {done.code})"
        else:
            what = f"no chat reaches them: hand them the invite code yourself: {done.code}"
        out.print(
            f"{person.email} leaves on {person.left_on}: {done.managers} manager guide(s) queued,"
            f" {what}"
        )
        return 0

    return asyncio.run(with_app(work))
