"""The console: `alumni-bot chat` in a terminal (chat.py), and the inbox the delivery worker
fills for it (channel.py, tables.py)."""

from bot.channels.console.chat import ConsoleChat as ConsoleChat
