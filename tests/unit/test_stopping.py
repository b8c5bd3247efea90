"""SIGINT and SIGTERM ask a long-running job to stop between micro-batches; a second one interrupts."""

from __future__ import annotations

import os
import signal
import time

import pytest

from smartspaces.stopping import STOP_SIGNALS, stop_between_batches


@pytest.mark.parametrize("number", STOP_SIGNALS, ids=lambda number: signal.Signals(number).name)
def test_a_signal_requests_a_stop_and_a_second_one_interrupts(number: int) -> None:
    before = signal.getsignal(number)
    with stop_between_batches() as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), number)
        deadline = time.monotonic() + 5
        while not stop.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), number)
            time.sleep(1)
    assert signal.getsignal(number) == before
