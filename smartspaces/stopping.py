"""A long-running job's stop request: SIGINT or SIGTERM (Kubernetes deleting the pod) ends it between
micro-batches, after the one under way is written and committed, never inside it."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger("smartspaces")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_between_batches() -> Iterator[threading.Event]:
    """While inside, SIGINT and SIGTERM set the event returned instead of interrupting; a second one interrupts
    at once (KeyboardInterrupt).

    Enter it after the Spark session exists: PySpark's own SIGINT handler (installed with the context) cancels
    Spark's jobs from inside the py4j call it interrupted, which breaks that call and ends the job with a
    traceback and nothing committed. Outside the main thread (a test's) signals cannot be caught: the event
    is returned and nothing else changes."""
    requested = threading.Event()

    def request_stop(number: int, _: FrameType | None) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        log.info("%s: stopping after the micro-batch under way", signal.Signals(number).name)
        requested.set()

    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    previous = {number: signal.signal(number, request_stop) for number in STOP_SIGNALS}
    try:
        yield requested
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
