"""Handling what platforms push, from the inbox table (storage/inbox.py), never lost.

A channel's endpoint calls `Inbox.record` and acknowledges only after that commit; `Inbox.run`
(inside `serve` and `run`) claims recorded items, handles up to `concurrency` conversations at
once (one conversation's items in order), and marks each done. Leases are short and renewed
while an item is being handled, so another process soon takes over what a killed one held; a
clean stop (SIGTERM: uvicorn's shutdown, then the app's lifespan)
stops claiming, waits `stop_seconds` for what is in hand and gives the rest back."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from bot.core.batcher import Batcher
from bot.core.clock import Clock
from bot.core.metrics import INBOX
from bot.core.settings import InboxSettings
from storage import inbox as store
from storage.db import Database

log = logging.getLogger(__name__)

IDLE_WAIT = 60.0
Handler = Callable[[dict[str, Any]], Awaitable[None]]


class Inbox:
    def __init__(self, db: Database, clock: Clock, settings: InboxSettings) -> None:
        self.db, self.clock, self.cfg = db, clock, settings
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: set[int] = set()  # ids leased by this process, not yet done
        self._stopping = False
        self._claiming = asyncio.Lock()
        # Group commits: the requests that arrive together share one write before their acks,
        # and the items finished together share one done mark.
        self._recorder: Batcher[store.Arrival, bool] = Batcher(self._record_many)
        self._marker: Batcher[tuple[int, str | None], None] = Batcher(self._done_many)

    def register(self, channel: str, handler: Handler) -> None:
        """The channel's handler for its recorded items (called from `Channel.start`)."""
        self.handlers[channel] = handler

    async def record(self, channel: str, key: str, conversation: str, body: dict[str, Any]) -> bool:
        """Keep an inbound item before acknowledging it; False if it was recorded before (a
        platform's retry). Raises if the database does: then the platform must retry."""
        fresh = await self._recorder.submit(store.Arrival(channel, key, conversation, body))
        INBOX.labels(channel, "recorded" if fresh else "duplicate").inc()
        if fresh:
            self._wake.set()
        return fresh

    async def _record_many(self, arrivals: Sequence[store.Arrival]) -> list[bool]:
        return await store.record_many(self.db, arrivals, self.clock.now())

    async def _done_many(self, finished: Sequence[tuple[int, str | None]]) -> list[None]:
        await store.done_many(self.db, finished, self.clock.now())
        return [None] * len(finished)

    async def run(self) -> None:
        """Claim and handle until `stop` (or cancelled); not again after `stop`."""
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while not self._stopping:
            self._wake.clear()
            if loop.time() - renewed >= self.cfg.lease_seconds / 3:
                renewed = loop.time()
                await self._renew()
            claimed = 0
            free = self.cfg.concurrency - len(self._tasks)
            if free > 0:
                async with self._claiming:
                    if self._stopping:
                        break
                    try:
                        claimed = await self._claim(free)
                    except Exception:
                        log.exception("inbox %s: claiming failed; trying again", self.name)
            if claimed:
                continue
            try:
                wait = min(self.cfg.poll_seconds, self.cfg.lease_seconds / 3)
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                pass

    async def _renew(self) -> None:
        until = self.clock.now() + timedelta(seconds=self.cfg.lease_seconds)
        try:
            await store.extend(self.db, self.name, sorted(self._held), until)
        except Exception:
            log.exception("inbox %s: could not renew %d leases", self.name, len(self._held))

    async def stop(self) -> None:
        """Stop claiming, let what is in hand finish for `stop_seconds`, give the rest back."""
        self._stopping = True
        self._wake.set()
        async with self._claiming:  # a claim under way ends first: nothing is taken after this
            pass
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.cfg.stop_seconds)
        for task in set(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)
        released = await store.release(self.db, self.name, sorted(self._held))
        self._held.clear()
        if released:
            log.warning("inbox %s: stopped; %d items given back to be handled", self.name, released)

    async def idle(self) -> None:
        """Wait until everything recorded has been handled (tests, benchmarks), for at most
        IDLE_WAIT seconds."""
        async with asyncio.timeout(IDLE_WAIT):
            while True:
                if self._tasks:  # what is in hand ends first: no query while it runs
                    await asyncio.wait(set(self._tasks))
                    await asyncio.sleep(0)  # their done callbacks run
                    continue
                if not await store.waiting(self.db):
                    return
                self._wake.set()  # recorded, not yet claimed (or held by another process)
                await asyncio.sleep(0.005)

    async def _claim(self, limit: int) -> int:
        now = self.clock.now()
        lease = timedelta(seconds=self.cfg.lease_seconds)
        items, dead = await store.claim(
            self.db, self.name, now, limit, lease, self.cfg.max_attempts
        )
        for item in dead:
            INBOX.labels(item.channel, "dead").inc()
            log.error(
                "inbox %s (%s, conversation %s): handling was interrupted %d times; given up",
                item.id, item.channel, item.conversation, item.attempts - 1,
            )  # fmt: skip
        # A claim holds at most one item a conversation (its oldest), so items side by side
        # are never of one conversation: its next is claimed once this one is done.
        for item in items:
            self._held.add(item.id)
            task = asyncio.get_running_loop().create_task(self._handle(item))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        return len(items) + len(dead)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # room for more

    async def _handle(self, item: store.Claimed) -> None:
        error: str | None = None
        handler = self.handlers.get(item.channel)
        if item.attempts > 1:
            log.warning("inbox %s (%s): handling again, attempt %d", item.id, item.channel,
                        item.attempts)  # fmt: skip
        try:
            if handler is None:
                error = f"no handler for {item.channel}"
                log.error("inbox %s: %s", item.id, error)
            else:
                await handler(item.body)
            INBOX.labels(item.channel, "handled").inc()
        except Exception as exc:  # the handler's own boundary failed: not retried
            INBOX.labels(item.channel, "failed").inc()
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("inbox %s (%s, conversation %s) failed", item.id, item.channel,
                          item.conversation)  # fmt: skip
        try:
            await self._marker.submit((item.id, error))
            self._held.discard(item.id)
        except Exception:
            log.exception("inbox %s: could not mark done (it will be handled again)", item.id)
