"""A fake platform channel for delivery tests: it records what was sent and behaves like a
platform does — a per-second budget (a token bucket refilled with the clock) answered with
429s, an optional minimum spacing per chat, users who blocked the bot, and flaky 5xx.

`VirtualSleep` lets the worker wait for its send times on a `FixedClock` without sleeping:
the earliest waiter moves the clock to its time first, so concurrent waits keep their order."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from starlette.routing import BaseRoute

from bot.core.channel import RateLimited, Recipient, TransientError, Unreachable
from bot.core.clock import FixedClock
from bot.core.types import Reply


@dataclass(frozen=True)
class Sent:
    to: Recipient
    reply: Reply
    at: datetime


@dataclass
class FakeChannel:
    clock: FixedClock
    name: str = "telegram"
    per_second: float | None = None  # None: no limit
    chat_interval: float | None = None  # seconds between two messages to one chat
    sent: list[Sent] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    flaky: int = 0  # this many next sends fail with a 5xx
    calls: int = 0
    too_many: int = 0  # 429s answered
    ignored_429: int = 0  # sends that came while the 429's retry_after still ran
    _tokens: float = 0.0
    _refilled: datetime | None = None
    _blocked_until: datetime | None = None
    _last_to_chat: dict[str, datetime] = field(default_factory=dict)

    async def start(self, *, webhooks: bool = False) -> None:
        pass

    async def stop(self) -> None:
        pass

    def web_routes(self) -> list[BaseRoute]:
        return []

    async def poll(self) -> None:
        await asyncio.Event().wait()

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        self.calls += 1
        now = self.clock.now()
        if to.user_id in self.blocked:
            raise Unreachable("Forbidden: bot was blocked by the user")
        if self.flaky > 0:
            self.flaky -= 1
            raise TransientError("502 Bad Gateway")
        if self._blocked_until is not None and now < self._blocked_until:
            self.ignored_429 += 1
            self.too_many += 1
            raise RateLimited((self._blocked_until - now).total_seconds())
        if self.per_second is not None:
            self._refill(now)
            if self._tokens < 1:
                retry = (1 - self._tokens) / self.per_second
                self._blocked_until = now + timedelta(seconds=retry)
                self.too_many += 1
                raise RateLimited(retry)
            self._tokens -= 1
        chat = to.chat_id or to.user_id
        if self.chat_interval is not None and chat in self._last_to_chat:
            wait = self.chat_interval - (now - self._last_to_chat[chat]).total_seconds()
            if wait > 1e-9:
                self.too_many += 1
                raise RateLimited(wait, scope="chat")
        self._last_to_chat[chat] = now
        self.sent.append(Sent(to, reply, now))
        return chat

    def _refill(self, now: datetime) -> None:
        assert self.per_second is not None
        if self._refilled is None:
            self._tokens = self.per_second
        else:
            elapsed = (now - self._refilled).total_seconds()
            self._tokens = min(self.per_second, self._tokens + elapsed * self.per_second)
        self._refilled = now

    def block(self, user_id: str) -> None:
        self.blocked.add(user_id)

    def per_user(self) -> Counter[str]:
        return Counter(s.to.user_id for s in self.sent)


class VirtualSleep:
    """`await sleep(seconds)` on a FixedClock: advances the clock instead of waiting, earliest
    deadline first (a later waiter waits until every earlier one has moved the clock)."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self._waiting: list[tuple[datetime, int, asyncio.Event]] = []
        self._order = itertools.count()

    async def __call__(self, seconds: float) -> None:
        deadline = self.clock.now() + timedelta(seconds=max(seconds, 0))
        entry = (deadline, next(self._order), asyncio.Event())
        heapq.heappush(self._waiting, entry)
        try:
            while True:
                await asyncio.sleep(0)  # let the others register their deadlines first
                if self._waiting[0] is entry:
                    break
                entry[2].clear()
                await entry[2].wait()
        finally:
            self._waiting.remove(entry)
            heapq.heapify(self._waiting)
            if self._waiting:
                self._waiting[0][2].set()
        if self.clock.current < deadline:
            self.clock.current = deadline
