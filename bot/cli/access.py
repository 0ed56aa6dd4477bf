"""`alumni-bot grant EMAIL ROLE` and `alumni-bot revoke EMAIL ROLE | CODE`: the command line's
side of handlers/access.py, audited the same way (with no actor: the operator)."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import CommandFailed, out, with_app
from bot.runtime.app import App
from storage import audit, invites, people
from storage.models import Role


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("grant", help="give a person a role")
    p.add_argument("email")
    p.add_argument("role", choices=[r.value for r in Role])
    p.set_defaults(func=cmd_grant)

    p = sub.add_parser("revoke", help="take a role back (EMAIL ROLE) or stop an invite code (CODE)")
    p.add_argument("target", metavar="EMAIL|CODE")
    p.add_argument("role", nargs="?", choices=[Role.HR.value, Role.ADMIN.value])
    p.set_defaults(func=cmd_revoke)


def cmd_grant(args: argparse.Namespace) -> int:
    async def work(app: App) -> int:
        async with app.db.transaction() as session:
            person = await people.person_by_email(session, args.email)
            if person is None or person.is_forgotten:
                raise CommandFailed(f"nobody with email {args.email}")
            now = app.clock.now()
            added = await people.grant(session, person, Role(args.role), None, now)
            await audit.record(session, now, None, "grant", f"person:{person.id}", role=args.role)
        out.print(f"{args.email} is {args.role}" + ("" if added else " (already)"))
        return 0

    return asyncio.run(with_app(work))


def cmd_revoke(args: argparse.Namespace) -> int:
    """`revoke EMAIL ROLE` takes a role back; `revoke CODE` stops an invite code. Audited."""

    async def work(app: App) -> int:
        now = app.clock.now()
        async with app.db.transaction() as session:
            if args.role is None:
                invite = await invites.find(session, args.target)
                if invite is None:
                    raise CommandFailed(f"no invite code {args.target}")
                if not invite.revoked:
                    await invites.revoke(session, invite.code)
                    await audit.record(session, now, None, "revoke_invite", f"invite:{invite.id}",
                                       code=invite.code, uses=invite.uses)  # fmt: skip
                out.print(
                    f"{invite.code} no longer works (used {invite.uses} of {invite.max_uses})"
                )
                return 0
            person = await people.person_by_email(session, args.target)
            if person is None or person.is_forgotten:
                raise CommandFailed(f"nobody with email {args.target}")
            role = Role(args.role)
            held = role in people.roles_of(person)
            if role is Role.ADMIN and held and await people.admins_left(session) <= 1:
                raise CommandFailed(
                    f"{args.target} is the last admin: grant admin to someone else first"
                )
            if await people.revoke(session, person, role):
                await audit.record(
                    session, now, None, "revoke", f"person:{person.id}", role=args.role
                )
                out.print(f"{args.target} is no longer {args.role}")
            else:
                out.print(f"{args.target} was not {args.role} (nothing changed)")
        return 0

    return asyncio.run(with_app(work))
