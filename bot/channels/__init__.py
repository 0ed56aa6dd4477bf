"""The platform channels whose credentials are set, built from the registry
(bot/core/platforms.py). Imported lazily: a deployment without Slack never imports slack_bolt.
The delivery worker also has the local ones (the console's inbox), which need no credentials."""

from __future__ import annotations

import importlib

from bot.core.channel import Channel
from bot.core.platforms import PLATFORMS
from bot.runtime.app import App


def _build(app: App, adapter: str) -> Channel:
    module, _, name = adapter.partition(":")
    channel: Channel = getattr(importlib.import_module(module), name)(app)
    return channel


def configured_channels(app: App) -> list[Channel]:
    """The platforms people chat on whose credentials are set (what `run` and `serve` start)."""
    return [_build(app, p.adapter) for p in PLATFORMS if p.adapter and p.configured(app.settings)]


def local_channels(app: App) -> list[Channel]:
    """The channels that keep messages in the bot's own database: every worker has them."""
    return [_build(app, p.local) for p in PLATFORMS if p.local]
