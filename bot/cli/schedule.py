"""`alumni-bot schedule EMAIL [--count N]`: when the bot will next write to someone, so HR and
support can answer "when will it write to me?" — the planned check-ins as dates and times in
the person's own zone, working days only (handlers/checkins.py `planned_checkins`)."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import CommandFailed, out, with_app
from bot.runtime.app import App
from handlers import checkins
from storage import people


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("schedule", help="a person's next planned check-ins, in their time zone")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--count", type=int, default=5, help="how many (default 5, at most 100)")
    p.set_defaults(func=cmd_schedule)


def cmd_schedule(args: argparse.Namespace) -> int:
    if not 1 <= args.count <= 100:
        raise CommandFailed("--count must be between 1 and 100", 2)

    async def work(app: App) -> int:
        async with app.db.transaction() as session:
            person = await people.person_by_email(session, args.email)
            if person is None or person.is_forgotten:
                raise CommandFailed(f"nobody with email {args.email}")
            times = checkins.planned_checkins(app, person, app.clock.now(), args.count)
            why = checkins.why_none_planned(person)
        if why is not None:
            out.print(f"{args.email}: no check-ins planned ({app.catalogs.text('en', why)})")
            return 0
        zone = app.zone_for(person)
        for at in times:
            out.print(f"{at.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}")
        return 0

    return asyncio.run(with_app(work))
