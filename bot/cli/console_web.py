"""`alumni-bot admin-link EMAIL`: a one-time link into the web console, for HR and admins
(the command line's side of chat `admin`, handlers/console_web.py). Audited."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import CommandFailed, out, with_app
from bot.runtime.app import App
from storage import audit, console_web, people


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "admin-link", help="print a one-time login link for the web console (valid 15 minutes)"
    )
    p.add_argument("email")
    p.set_defaults(func=cmd_admin_link)


def cmd_admin_link(args: argparse.Namespace) -> int:
    async def work(app: App) -> int:
        now = app.clock.now()
        token = None
        async with app.db.transaction() as session:
            person = await people.person_by_email(session, args.email)
            if person is None or person.is_forgotten:
                raise CommandFailed(f"nobody with email {args.email}")
            allowed = console_web.may_sign_in(person)
            if allowed:
                try:
                    token = await console_web.issue_link(session, person, now)
                except console_web.TooManyLinks:
                    raise CommandFailed(
                        f"{args.email} asked for {console_web.LINKS_PER_LIFETIME} links in the last"
                        " 15 minutes: use one of those, or wait"
                    ) from None
            await audit.record(session, now, None, "admin_link", f"person:{person.id}",
                               allowed=allowed, via="cli")  # fmt: skip
        if token is None:  # the refusal is audited (committed above); then the one clear line
            raise CommandFailed(f"{args.email} is neither HR nor admin: no console link")
        out.print(console_web.login_url(app.settings.base_url(), token))
        return 0

    return asyncio.run(with_app(work))
