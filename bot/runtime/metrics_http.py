"""`/metrics` for a process without a web app (`worker`): prometheus-client's own HTTP server on
a daemon thread, serving the default registry that bot/core/metrics.py counts into."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import start_http_server

log = logging.getLogger(__name__)


@contextmanager
def serving_metrics(port: int | None, addr: str = "0.0.0.0") -> Iterator[None]:
    """Serve Prometheus text on `addr`:`port` inside the block; nothing when `port` is None.
    A port that cannot be bound raises OSError before the block runs."""
    if port is None:
        yield
        return
    server, thread = start_http_server(port, addr=addr)
    log.info("metrics on http://%s:%d/metrics", addr, port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
