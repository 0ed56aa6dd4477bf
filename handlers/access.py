"""Who may do what, and taking it back: `grant EMAIL ROLE`, `revoke EMAIL ROLE` (admins) and
`revoke CODE` (HR: an invite code that must stop working, e.g. one handed to the wrong person).

Only the privileges are granted and revoked here (`hr`, `admin`): alumni and employees are what
the import says they are. The last admin cannot give the role up, so nobody locks the company out.
Every change, and every refusal, goes to the audit log; the command line has the same
(`alumni-bot grant` / `alumni-bot revoke`, bot/cli)."""

from __future__ import annotations

from bot.core.forms import EMAIL
from bot.core.types import Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from storage import invites, people
from storage.models import Person, Role

GRANTABLE = {"hr": Role.HR, "admin": Role.ADMIN, "人事": Role.HR, "管理者": Role.ADMIN}


async def _person_and_role(ctx: Context, args: tuple[str, ...], usage: str) -> tuple[Person, Role]:
    if len(args) != 2 or not EMAIL.match(args[0]) or args[1].lower() not in GRANTABLE:
        raise UserFacingError(usage)
    person = await people.person_by_email(ctx.session, args[0])
    if person is None or person.is_forgotten:
        raise UserFacingError("access.unknown_email", email=args[0][:80])
    return person, GRANTABLE[args[1].lower()]


def _role_name(ctx: Context, role: Role) -> str:
    return ctx.t(f"access.role_{role.value}")


async def grant(ctx: Context, msg: Incoming) -> Reply:
    """`grant EMAIL hr|admin` (admins)."""
    person, role = await _person_and_role(ctx, msg.args, "access.grant_usage")
    added = await people.grant(ctx.session, person, role, ctx.me, ctx.now)
    if added:
        await ctx.audit("grant", f"person:{person.id}", role=role.value)
    key = "access.granted" if added else "access.already"
    return Reply(ctx.t(key, name=person.name, email=person.email, role=_role_name(ctx, role)))


async def revoke(ctx: Context, msg: Incoming) -> Reply:
    """`revoke CODE` (HR) or `revoke EMAIL hr|admin` (admins)."""
    if len(msg.args) == 1 and "@" not in msg.args[0]:
        return await _revoke_code(ctx, msg.args[0])
    if not ctx.has_role(Role.ADMIN):  # a reply, not an error: the refusal's audit stays
        await ctx.audit("refused", "revoke", allowed=False, roles=sorted(ctx.roles))
        return Reply(ctx.t("error.forbidden_admin"))
    person, role = await _person_and_role(ctx, msg.args, "access.revoke_usage")
    name = _role_name(ctx, role)
    if role is Role.ADMIN and role in people.roles_of(person):
        if await people.admins_left(ctx.session) <= 1:
            raise UserFacingError("access.last_admin", name=person.name)
    if not await people.revoke(ctx.session, person, role):
        raise UserFacingError("access.not_held", name=person.name, role=name)
    await ctx.audit("revoke", f"person:{person.id}", role=role.value)
    return Reply(ctx.t("access.revoked", name=person.name, email=person.email, role=name))


async def _revoke_code(ctx: Context, code: str) -> Reply:
    invite = await invites.find(ctx.session, code)
    if invite is None:
        raise UserFacingError("access.unknown_code", code=code[:20])
    if invite.revoked:
        raise UserFacingError("access.code_already_revoked", code=invite.code)
    await invites.revoke(ctx.session, invite.code)
    await ctx.audit("revoke_invite", f"invite:{invite.id}", code=invite.code, uses=invite.uses)
    text = ctx.t("access.code_revoked", code=invite.code, uses=invite.uses, max=invite.max_uses)
    return Reply(text)
