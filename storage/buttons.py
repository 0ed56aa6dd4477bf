"""Button tokens, for platforms whose button data is short (64 bytes of Telegram's
`callback_data`) or comes back from the client, where it is never trusted: each button carries a
random token that stands for its (action, payload) in `button_tokens`, shared by every `serve`
process. An unknown or stale token is a button that has expired. A token also remembers whom its
keyboard was shown to, so that in a group a press by someone else acts for nobody."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import CursorResult

from storage.db import Database
from storage.models import ButtonToken

TOKEN_TTL = timedelta(days=30)  # a month-old check-in button still works; older ones expire
TOKEN_BYTES = 12  # 16 URL-safe characters: far below 64 bytes, and unguessable


@dataclass(frozen=True)
class Pressed:
    action: str
    payload: str
    owner: str | None  # None: issued before owners were kept


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


async def issue(
    db: Database, buttons: Iterable[tuple[str, str]], now: datetime, owner: str | None
) -> dict[tuple[str, str], str]:
    """A fresh token for each distinct (action, payload) shown to `owner`, stored in one short
    transaction."""
    tokens: dict[tuple[str, str], str] = {}
    for key in buttons:
        tokens.setdefault(key, new_token())
    if tokens:
        async with db.transaction() as session:
            session.add_all(
                ButtonToken(
                    token=token, action=action, payload=payload, owner=owner, created_at=now
                )
                for (action, payload), token in tokens.items()
            )
    return tokens


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
