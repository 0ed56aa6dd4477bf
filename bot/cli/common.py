"""What every subcommand shares: the consoles, the one-line failure, and running with an App."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.console import Console

from bot.core.settings import load_settings
from bot.runtime.app import App

err = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per message
out = Console(highlight=False, soft_wrap=True)


class CommandFailed(Exception):
    """One line for stderr, and the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


async def with_app(work: Callable[[App], Awaitable[int]], *, upgrade: bool = True) -> int:
    app = App.build(load_settings())
    try:
        if upgrade:
            await app.prepare()
        return await work(app)
    finally:
        await app.close()
