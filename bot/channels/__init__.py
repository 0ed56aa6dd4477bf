"""The platform channels whose credentials are set, built from the registry
(bot/core/platforms.py). Imported lazily: a deployment without Slack never imports slack_bolt."""

from __future__ import annotations

import importlib

from bot.core.channel import Channel
from bot.core.platforms import PLATFORMS
from bot.runtime.app import App


def configured_channels(app: App) -> list[Channel]:
    channels: list[Channel] = []
    for p in PLATFORMS:
        if p.adapter and p.configured(app.settings):
            module, _, name = p.adapter.partition(":")
            channels.append(getattr(importlib.import_module(module), name)(app))
    return channels
