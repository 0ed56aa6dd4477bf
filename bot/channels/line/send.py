"""Sending through the Messaging API (line-bot-sdk v3's async client), and what a failure means.

A reply (with the event's reply token) is free; a push counts against the plan's monthly limit,
so each push is counted in the database (storage/quota.py): here for answers, by the delivery
worker for what it sends. Every push carries an
`X-Line-Retry-Key`: a UUID fixed by what is being sent (the outbox row, or the event being
answered), so a push retried after a timeout is never delivered twice; LINE answers 409 for a
key it already accepted, which is success."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from linebot.v3.messaging import (
    ApiException,
    AsyncMessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
)

from bot.channels.line.render import Message
from bot.core.channel import DeliveryError, RateLimited, TransientError, Unreachable
from storage import quota
from storage.db import Database

log = logging.getLogger(__name__)

NAME = "line"
RETRY_NAMESPACE = uuid.UUID("6f1c3f0e-5a55-4e8b-9d5e-3c1a2b7d9e10")
RATE_LIMIT_WAIT_S = 1.0  # LINE's 429 carries no Retry-After
QUOTA_WAIT_S = 3600.0  # the month's pushes are used up: LINE refuses until the month turns


def retry_key(*parts: object) -> str:
    """A UUID that is the same every time the same thing is sent."""
    return str(uuid.uuid5(RETRY_NAMESPACE, ":".join(str(p) for p in parts)))


class InvalidReplyToken(Exception):
    """The reply token was used or has expired: push instead."""


def _message(exc: ApiException) -> str:
    body: Any = exc.body
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    return str(body or exc.reason or exc.status)[:300]


def delivery_error(exc: ApiException, to: str) -> DeliveryError:
    status, text = int(exc.status or 0), _message(exc)
    if status == 429:
        if "monthly limit" in text.lower():
            log.error("LINE monthly push limit reached: pushes wait (%s)", text)
            return RateLimited(QUOTA_WAIT_S, scope="channel")
        return RateLimited(RATE_LIMIT_WAIT_S, scope="channel")
    if status == 400 and "'to'" in text:
        return Unreachable(text)
    if status in (400, 401, 403):
        # Our bug or our configuration, not the recipient's: loud, retried with backoff.
        log.error("LINE refused a message to %s: %s %s", to, status, text)
    return TransientError(f"{status}: {text}")


async def reply(api: AsyncMessagingApi, token: str, messages: list[Message]) -> None:
    request = ReplyMessageRequest.from_dict({"replyToken": token, "messages": messages})
    try:
        await api.reply_message(request)
    except ApiException as exc:
        if exc.status == 400 and "reply token" in _message(exc).lower():
            raise InvalidReplyToken(_message(exc)) from exc
        raise


async def push(
    api: AsyncMessagingApi,
    db: Database,
    now: datetime,
    to: str,
    messages: list[Message],
    key: str,
    *,
    counted: bool = True,
) -> None:
    """One push request (up to 5 messages), counted once it is accepted (`counted`: here; the
    delivery worker counts its own sends). Raises ApiException."""
    request = PushMessageRequest.from_dict({"to": to, "messages": messages})
    try:
        await api.push_message(request, x_line_retry_key=key)
    except ApiException as exc:
        if exc.status == 409:  # this retry key was accepted before: delivered, not again
            log.info("LINE push %s to %s was accepted before", key, to)
            return
        raise
    if counted:
        await quota.add(db, NAME, quota.month_of(now), 1)
