"""Mail in tests: a local aiosmtpd server (tests/fakes/smtp_server.py), an app that mails
through it, and draining the outbox with the real mail channel. Import the fixtures by name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from bot.channels.smtp.channel import MailChannel
from bot.core.channel import Channel
from bot.core.clock import FixedClock
from bot.runtime.app import App
from bot.runtime.delivery import Worker
from tests.conftest import make_settings
from tests.fakes.fake_channel import VirtualSleep
from tests.fakes.smtp_server import SmtpServer

MAIL_SETTINGS: dict[str, Any] = {
    "mail_from": "Alumni <alumni@example.com>",
    "public_url": "https://alumni.example.com",
    "telegram_bot_username": "alumni_bot",
    "alumni_workspace_invite_url": "https://join.slack.com/t/alumni/shared_invite/abc",
}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def mail_app(database_url: str, clock: FixedClock, smtp: SmtpServer) -> AsyncIterator[App]:
    app = App.build(make_settings(database_url, smtp_url=smtp.url, **MAIL_SETTINGS), clock)
    yield app
    await app.close()


async def drain(app: App, *others: Channel) -> Worker:
    """Deliver everything due through the mail channel (and `others`), on virtual time."""
    assert isinstance(app.clock, FixedClock)
    channel = MailChannel(app)
    channels = {c.name: c for c in (channel, *others)}
    worker = Worker(app, channels, sleep=VirtualSleep(app.clock))
    try:
        await worker.run(drain=True)
    finally:
        await channel.stop()
    assert worker.stats.errors == 0
    return worker


def part(got: EmailMessage, kind: str) -> str:
    found = got.get_body((kind,))
    assert found is not None
    content: str = found.get_content()
    return content
