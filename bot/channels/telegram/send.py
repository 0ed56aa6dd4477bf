"""Sending one `Reply` through the Bot API, and what a failure means for delivery.

Used for answers to updates (bot/channels/telegram/channel.py) and for proactive messages from the
delivery worker (`TelegramChannel.send`)."""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from datetime import timedelta

from telegram import InputFile, ReplyParameters
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot.channels.telegram import render
from bot.core.channel import DeliveryError, RateLimited, TransientError, Unreachable
from bot.core.types import Reply
from bot.runtime.app import App
from storage import buttons as store

log = logging.getLogger(__name__)

# PTB 22 builds RetryAfter by reading its own deprecated int `retry_after`, which warns on every
# 429 (an error under `-W error`, and a log line per 429 in production). Opting in to the
# timedelta form that PTB 23 will use is PTB's documented way out; nothing here reads PTB's other
# time attributes. An operator's own PTB_TIMEDELTA wins.
os.environ.setdefault("PTB_TIMEDELTA", "true")

RETRY_INLINE_MAX_S = 3.0  # an answer waits out a short 429 once; a longer one is dropped


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns about the int form; we take either
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def delivery_error(exc: TelegramError, chat_id: int) -> DeliveryError:
    """What delivery should do about a failed send (bot/core/channel.py)."""
    if isinstance(exc, RetryAfter):
        # Telegram does not say which limit was hit. A group has its own 20-a-minute limit; a
        # private chat that gets a proactive message rarely hits 1 a second, so a 429 there is
        # most likely the bot-wide 30 a second.
        return RateLimited(retry_seconds(exc), scope="chat" if chat_id < 0 else "channel")
    if isinstance(exc, Forbidden):  # blocked, deactivated, never pressed Start
        return Unreachable(exc.message)
    text = exc.message.lower()
    if isinstance(exc, BadRequest) and any(
        s in text for s in ("chat not found", "user not found", "peer_id_invalid")
    ):
        return Unreachable(exc.message)
    if isinstance(exc, BadRequest | InvalidToken):
        # Our bug or our configuration, not the recipient's: loud, and retried with backoff
        # (bounded by the worker's attempts) rather than marking the person unreachable.
        log.error("telegram refused a message to chat %s: %s", chat_id, exc.message)
    return TransientError(exc.message)


async def deliver(
    bot: ExtBot[None],
    app: App,
    chat_id: int,
    reply: Reply,
    owner: str | None,
    reply_to: int | None = None,
    tokens: store.Keys | None = None,
) -> None:
    """Render and send one reply shown to `owner` (the user id whose buttons these are): text
    chunks (keyboard on the last), then any file. `tokens`: its buttons' tokens if issued ahead
    (the worker's batch); else they are issued here."""
    if tokens is None:
        keys = render.button_keys(reply)
        tokens = await store.issue(app.db, keys, app.clock.now(), owner) if keys else {}
    out = render.render(reply, tokens)
    quote = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    for i, chunk in enumerate(out.chunks):
        last = i == len(out.chunks) - 1
        await bot.send_message(
            chat_id,
            chunk.text,
            entities=chunk.entities or None,
            reply_markup=out.keyboard if last and out.attachment is None else None,
            reply_parameters=quote if i == 0 else None,
        )
    if out.attachment is None:
        return
    file = InputFile(out.attachment.content, filename=out.attachment.filename)
    caption = out.caption.text if out.caption else None
    entities = (out.caption.entities or None) if out.caption else None
    send = bot.send_photo if out.attachment.is_image else bot.send_document
    await send(
        chat_id,
        file,
        caption=caption,
        caption_entities=entities,
        reply_markup=out.keyboard,
        reply_parameters=quote if not out.chunks else None,
    )


async def deliver_retrying(
    bot: ExtBot[None], app: App, chat_id: int, reply: Reply, owner: str, reply_to: int | None
) -> None:
    """An answer to someone waiting: a short 429 is waited out once (1 a second per chat)."""
    try:
        await deliver(bot, app, chat_id, reply, owner, reply_to)
    except RetryAfter as exc:
        wait = retry_seconds(exc)
        if wait > RETRY_INLINE_MAX_S:
            raise
        await asyncio.sleep(wait)
        await deliver(bot, app, chat_id, reply, owner, reply_to)
