"""The type of scheduled work: a named tick, how often it runs, and the work it does.

`handlers.TICKS` lists them beside `ROUTES`; the runtime's scheduler only runs that list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.dispatch.services import Services

TickWork = Callable[[Services], Awaitable[int]]  # returns how many items it handled


@dataclass(frozen=True)
class Tick:
    name: str
    every: timedelta
    work: TickWork
