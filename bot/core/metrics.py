"""What `GET /metrics` tells an operator beyond the process defaults (prometheus-client)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DISPATCHES = Counter(
    "alumni_bot_dispatches",
    "Incoming messages, commands and button presses handled",
    ["channel", "outcome"],
)
DISPATCH_SECONDS = Histogram(
    "alumni_bot_dispatch_seconds", "Time to handle one incoming message", ["channel"]
)
DELIVERIES = Counter(
    "alumni_bot_deliveries", "Proactive message sends by result", ["channel", "result"]
)
INBOX = Counter(
    "alumni_bot_inbox",
    "Inbound updates and events: recorded, duplicate, handled, failed, dead",
    ["channel", "result"],
)
