"""What the delivery worker (bot/runtime/delivery.py) has to write back after sending: outbox rows
and identity changes, kept in memory until the database has them.

A message that was sent must be recorded `sent`: if the write fails, the row would stay
`sending` until its lease ends and then go out again. So a failed write is retried with a short
backoff, and what could not be written stays here (never dropped) for the next attempt; the
worker writes it before it claims anything new, and a row it claims again while its outcome is
still here gets that outcome instead of a second send."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from storage import delivery as store
from storage import mail
from storage.db import Database

log = logging.getLogger(__name__)

ATTEMPTS = 5  # per write; then the rows wait for the next one
BACKOFF_SECONDS = 0.1  # doubled after each failed attempt
WRITE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


class Outcomes:
    def __init__(
        self, db: Database, sleep: Callable[[float], Awaitable[None]], worker: str
    ) -> None:
        self.db = db
        self.sleep = sleep
        self.worker = worker
        self.rows: dict[int, dict[str, Any]] = {}  # outbox id → the row to write (latest wins)
        self.identities: list[dict[str, Any]] = []
        self.bounces: list[dict[str, Any]] = []  # mails refused for good (storage/mail.py)
        self.failures = 0  # failed attempts, for Stats
        self.failing = False  # the last write gave up: do not try again before the next one
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self.rows) + len(self.identities) + len(self.bounces)

    def add(self, row: dict[str, Any]) -> None:
        self.rows[row["id"]] = row

    def forget(self, written: list[dict[str, Any]]) -> None:
        """`written` were written by the caller (unless a newer outcome came meanwhile)."""
        for row in written:
            if self.rows.get(row["id"]) is row:
                del self.rows[row["id"]]

    async def write(self) -> bool:
        """Write everything pending, retrying; False when it is still unwritten (kept)."""
        async with self._lock:
            for attempt in range(1, ATTEMPTS + 1):
                rows, identities = list(self.rows.values()), list(self.identities)
                bounces = list(self.bounces)
                if not rows and not identities and not bounces:
                    return True
                try:
                    async with self.db.transaction() as session:
                        await store.update_identities(session, identities)
                        await mail.record_bounces(session, bounces)
                        await store.write_outcomes(session, rows)
                except WRITE_ERRORS as exc:
                    self.failures += 1
                    log.warning(
                        "delivery worker %s: writing %d outcomes (%d sent) and %d identity"
                        " changes failed, attempt %d of %d: %s: %s",
                        self.worker, len(rows), sum(r["state"] == "sent" for r in rows),
                        len(identities), attempt, ATTEMPTS, type(exc).__name__, exc,
                    )  # fmt: skip
                    if attempt < ATTEMPTS:
                        await self.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                    continue
                self.forget(rows)  # a newer outcome of the same message added meanwhile stays
                del self.identities[: len(identities)]
                del self.bounces[: len(bounces)]
                self.failing = False
                return True
            self.failing = True
            if self:
                log.error(
                    "delivery worker %s: %d outcomes still unwritten after %d attempts: kept in"
                    " memory and written before anything new is claimed",
                    self.worker, len(self), ATTEMPTS,
                )  # fmt: skip
            return not self
