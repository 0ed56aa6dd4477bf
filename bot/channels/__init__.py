"""The platform channels whose credentials are set. Imported lazily: a deployment without
Slack never imports slack_bolt."""

from __future__ import annotations

from bot.core.channel import Channel
from bot.runtime.app import App


def configured_channels(app: App) -> list[Channel]:
    channels: list[Channel] = []
    s = app.settings
    if s.slack_bot_token or (s.slack_client_id and s.slack_client_secret):
        from bot.channels.slack.channel import SlackChannel

        channels.append(SlackChannel(app))
    if app.settings.telegram_bot_token:
        from bot.channels.telegram.channel import TelegramChannel

        channels.append(TelegramChannel(app))
    return channels
