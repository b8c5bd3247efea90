"""Single-flight: one run per key at a time, its result or error shared by every concurrent caller."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from smartspaces.serving.single_flight import SingleFlight

CALLERS = 8


def test_concurrent_calls_of_one_key_run_the_work_once() -> None:
    flights: SingleFlight[list[str]] = SingleFlight()
    runs: list[int] = []
    start = threading.Barrier(CALLERS)

    def work() -> list[str]:
        runs.append(1)
        time.sleep(0.5)  # every other caller arrives while this runs
        return ["e1", "e2"]

    def call() -> list[str]:
        start.wait()
        return flights.run("space-1", work)

    with ThreadPoolExecutor(CALLERS) as pool:
        results = list(pool.map(lambda _: call(), range(CALLERS)))
    assert (len(runs), results) == (1, [["e1", "e2"]] * CALLERS)


def test_different_keys_run_separately() -> None:
    flights: SingleFlight[str] = SingleFlight()
    assert [flights.run("a", lambda: "value of a"), flights.run("b", lambda: "value of b")] == [
        "value of a",
        "value of b",
    ]


def test_a_call_after_the_first_ended_runs_again() -> None:
    flights: SingleFlight[int] = SingleFlight()
    counter = iter(range(10))
    assert [flights.run("k", lambda: next(counter)) for _ in range(3)] == [0, 1, 2]


def test_the_error_reaches_every_waiting_caller_and_the_next_call_retries() -> None:
    flights: SingleFlight[str] = SingleFlight()
    start = threading.Barrier(CALLERS)

    def failing() -> str:
        time.sleep(0.5)
        raise TimeoutError("cassandra timed out")

    def call() -> str:
        start.wait()
        try:
            return flights.run("space-1", failing)
        except TimeoutError as error:
            return f"raised {error}"

    with ThreadPoolExecutor(CALLERS) as pool:
        outcomes = list(pool.map(lambda _: call(), range(CALLERS)))
    assert outcomes == ["raised cassandra timed out"] * CALLERS
    assert flights.run("space-1", lambda: "recovered") == "recovered"


def test_a_key_is_released_when_its_work_fails() -> None:
    flights: SingleFlight[str] = SingleFlight()
    with pytest.raises(ValueError, match="bad row"):
        flights.run("k", lambda: (_ for _ in ()).throw(ValueError("bad row")))
    assert flights.run("k", lambda: "ok") == "ok"
