"""Clean stops: SIGTERM (what every deploy sends) and SIGINT ask a long-running process to
finish what it started and give the rest back; a second signal exits at once."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals(stop: Callable[[], None], what: str) -> Iterator[None]:
    """Call `stop` on the first SIGTERM or SIGINT inside the block; exit the process on the
    second. Signal handlers exist only in the main thread: elsewhere (a test calling the CLI in
    a thread) the block runs without them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []

    def handle(sig: signal.Signals) -> None:
        if received:
            log.warning(
                "%s: second signal (%s): exiting now, leases end on their own", what, sig.name
            )
            logging.shutdown()
            sys.stdout.flush()
            os._exit(128 + sig.value)
        received.append(sig)
        log.info(
            "%s: %s received: finishing the sends under way, then stopping (again to exit now)",
            what,
            sig.name,
        )
        stop()

    for sig in SIGNALS:
        loop.add_signal_handler(sig, handle, sig)
    try:
        yield
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
