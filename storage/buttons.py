"""Button tokens, for platforms whose button data is short (64 bytes of Telegram's
`callback_data`) or comes back from the client, where it is never trusted: each button carries a
random token that stands for its (action, payload) in `button_tokens`, shared by every `serve`
process. An unknown or stale token is a button that has expired. A token also remembers whom its
keyboard was shown to, so that in a group a press by someone else acts for nobody.

The delivery worker sends up to a limit of messages a second, most of them with buttons: their
tokens are issued for a whole claimed batch in one transaction (`Ahead`), not one per message,
which capped a worker at about half of a 200/s limit."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import CursorResult

from storage.db import Database
from storage.models import ButtonToken

TOKEN_TTL = timedelta(days=30)  # a month-old check-in button still works; older ones expire
TOKEN_BYTES = 12  # 16 URL-safe characters: far below 64 bytes, and unguessable
AHEAD_MAX = 10_000  # tokens kept for messages not sent yet (a few claimed batches' worth)

Keys = dict[tuple[str, str], str]


@dataclass(frozen=True)
class Pressed:
    action: str
    payload: str
    owner: str | None  # None: issued before owners were kept


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


async def issue(
    db: Database, buttons: Iterable[tuple[str, str]], now: datetime, owner: str | None
) -> Keys:
    """A fresh token for each distinct (action, payload) shown to `owner`, stored in one short
    transaction."""
    return (await issue_many(db, [(buttons, owner)], now))[0]


async def issue_many(
    db: Database, wanted: Sequence[tuple[Iterable[tuple[str, str]], str | None]], now: datetime
) -> list[Keys]:
    """`issue` for several messages (their buttons, whom they are shown to) in one transaction."""
    issued: list[Keys] = []
    rows: list[ButtonToken] = []
    for buttons, owner in wanted:
        tokens: Keys = {}
        for key in buttons:
            tokens.setdefault(key, new_token())
        issued.append(tokens)
        rows += (
            ButtonToken(token=token, action=action, payload=payload, owner=owner, created_at=now)
            for (action, payload), token in tokens.items()
        )
    if rows:
        async with db.transaction() as session:
            session.add_all(rows)
    return issued


class Ahead:
    """Tokens issued ahead of sending, by the outbox row's key: a channel issues a claimed
    batch's tokens at once (`issue`), then takes each message's when it sends it (`take`).
    Bounded: the tokens of messages given back unsent are forgotten first (and expire)."""

    def __init__(self, limit: int = AHEAD_MAX) -> None:
        self.limit = limit
        self.tokens: dict[str, tuple[str | None, Keys]] = {}

    async def issue(
        self,
        db: Database,
        batch: Sequence[tuple[str, list[tuple[str, str]], str | None]],
        now: datetime,
    ) -> None:
        """`batch`: each message's key, its buttons and whom they are shown to."""
        wanted = [(key, buttons, owner) for key, buttons, owner in batch if buttons]
        issued = await issue_many(db, [(b, owner) for _, b, owner in wanted], now)
        for (key, _, owner), tokens in zip(wanted, issued, strict=True):
            self.tokens.pop(key, None)
            self.tokens[key] = (owner, tokens)
        while len(self.tokens) > self.limit:  # the oldest first
            del self.tokens[next(iter(self.tokens))]

    def take(
        self, key: str | None, buttons: Iterable[tuple[str, str]], owner: str | None
    ) -> Keys | None:
        """The tokens issued ahead for that message to `owner`, if they cover every button."""
        found = self.tokens.pop(key, None) if key else None
        if found is None or found[0] != owner or any(b not in found[1] for b in buttons):
            return None
        return found[1]


async def resolve(db: Database, token: str, now: datetime) -> Pressed | None:
    """What a token issued within TOKEN_TTL stands for, else None."""
    if not token or len(token) > 24:
        return None
    async with db.sessions() as session:
        found = await session.get(ButtonToken, token)
    if found is None or found.created_at < now - TOKEN_TTL:
        return None
    return Pressed(found.action, found.payload, found.owner)


async def forget_old(db: Database, now: datetime) -> int:
    async with db.transaction() as session:
        result = await session.execute(
            delete(ButtonToken).where(ButtonToken.created_at < now - TOKEN_TTL)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount
