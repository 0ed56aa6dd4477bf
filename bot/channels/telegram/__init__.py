"""Telegram: python-telegram-bot inside our Starlette app, inline keyboards, webhook or polling."""
