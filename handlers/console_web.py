"""Chat `admin` (HR and admins): a one-time link into the web console, sent privately.
The console itself is bot/runtime/admin/; what signing in asks of the database is
storage/console_web.py."""

from __future__ import annotations

from bot.core.types import Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from storage import console_web


async def admin_link(ctx: Context, msg: Incoming) -> Reply:
    try:
        token = await console_web.issue_link(ctx.session, ctx.me, ctx.now)
    except console_web.TooManyLinks:
        raise UserFacingError("console_web.too_many", n=console_web.LINKS_PER_LIFETIME) from None
    await ctx.audit("admin_link", f"person:{ctx.me.id}", via="chat")
    url = console_web.login_url(ctx.settings.base_url(), token)
    minutes = int(console_web.LINK_LIFETIME.total_seconds() // 60)
    return Reply(ctx.t("console_web.link", url=url, minutes=minutes), private_only=True)
