"""pause, mydata, forgetme: a person's control over what the bot does with them."""

from __future__ import annotations

import json

from bot.core.types import Attachment, Button, Incoming, Reply, UserFacingError
from bot.dispatch.context import Context
from storage import privacy


async def pause(ctx: Context, msg: Incoming) -> Reply:
    """Toggle: no proactive messages while paused (they wait; they are not dropped)."""
    p = ctx.me
    p.paused = not p.paused
    p.updated_at = ctx.now
    ctx.audit("pause" if p.paused else "resume", f"person:{p.id}")
    return Reply(ctx.t("pause.on" if p.paused else "pause.off"))


async def mydata(ctx: Context, msg: Incoming) -> Reply:
    data = await privacy.export(ctx.session, ctx.me)
    body = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    return Reply(
        ctx.t("mydata.ready"),
        attachment=Attachment(f"mydata-{ctx.me.id}.json", body, "application/json"),
        private_only=True,
    )


async def forgetme(ctx: Context, msg: Incoming) -> Reply:
    return Reply(
        ctx.t("forget.confirm"),
        buttons=(
            (
                Button(ctx.t("forget.yes"), "privacy.forget", "yes", style="danger"),
                Button(ctx.t("forget.no"), "privacy.forget", "no"),
            ),
        ),
    )


async def forget(ctx: Context, msg: Incoming) -> Reply:
    if msg.payload != "yes":
        return Reply(ctx.t("forget.kept"))
    person = ctx.me
    if person.is_forgotten:
        raise UserFacingError("error.not_joined")
    ctx.audit("forgetme", f"person:{person.id}")
    await privacy.forget(ctx.session, person, ctx.now)
    return Reply(ctx.t("forget.done"))
