"""A delivery worker in a process of its own, for the crash test (tests/test_delivery.py):

    python -m tests.fakes.worker_process DATABASE_URL RECORD_FILE

It delivers through a fake platform that appends each recipient's user id to RECORD_FILE (one
line a message, flushed at once, so what was sent survives a SIGKILL), in real time, until
killed."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from starlette.routing import BaseRoute

from bot.core.channel import Recipient
from bot.core.settings import ChannelLimit, DeliverySettings, Settings
from bot.core.types import Reply
from bot.runtime.app import App
from bot.runtime.delivery import Worker


class RecordingChannel:
    name = "telegram"

    def __init__(self, record: TextIO) -> None:
        self.record = record

    async def start(self, *, webhooks: bool = False) -> None:
        pass

    async def stop(self) -> None:
        pass

    def web_routes(self) -> list[BaseRoute]:
        return []

    async def poll(self) -> None:
        await asyncio.Event().wait()

    async def send(self, to: Recipient, reply: Reply) -> str | None:
        await asyncio.sleep(0.002)  # a platform takes a moment to answer
        self.record.write(to.user_id + "\n")
        self.record.flush()
        return to.chat_id


async def work(url: str, record: TextIO) -> None:
    limits = {"telegram": ChannelLimit(per_second=300, chat_per_second=1)}
    settings = Settings(database_url=url, delivery=DeliverySettings(limits=limits, batch_size=50))
    app = App.build(settings)
    await Worker(app, {"telegram": RecordingChannel(record)}, name="doomed").run()


if __name__ == "__main__":
    with open(sys.argv[2], "a", encoding="utf-8") as file:
        asyncio.run(work(sys.argv[1], file))
