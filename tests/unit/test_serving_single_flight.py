"""Single-flight: one run per key at a time, its result or error shared by every concurrent caller."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from smartspaces.stages.serving.single_flight import SingleFlight

CALLERS = 8


def concurrently(call: Callable[[], Awaitable[object]]) -> list[object]:
    """CALLERS concurrent calls on one event loop, their results in order."""

    async def all_callers() -> list[object]:
        return list(await asyncio.gather(*(call() for _ in range(CALLERS))))

    return asyncio.run(all_callers())


def test_concurrent_calls_of_one_key_run_the_work_once() -> None:
    flights: SingleFlight[list[str]] = SingleFlight()
    runs: list[int] = []

    async def work() -> list[str]:
        runs.append(1)
        await asyncio.sleep(0.5)  # every other caller arrives while this runs
        return ["e1", "e2"]

    results = concurrently(lambda: flights.run("space-1", work))
    assert (len(runs), results) == (1, [["e1", "e2"]] * CALLERS)


def test_different_keys_run_separately() -> None:
    flights: SingleFlight[str] = SingleFlight()

    async def value_of(key: str) -> str:
        return f"value of {key}"

    async def both() -> list[str]:
        return [await flights.run("a", lambda: value_of("a")), await flights.run("b", lambda: value_of("b"))]

    assert asyncio.run(both()) == ["value of a", "value of b"]


def test_a_call_after_the_first_ended_runs_again() -> None:
    flights: SingleFlight[int] = SingleFlight()
    counter = iter(range(10))

    async def next_value() -> int:
        return next(counter)

    async def three() -> list[int]:
        return [await flights.run("k", next_value) for _ in range(3)]

    assert asyncio.run(three()) == [0, 1, 2]


def test_the_error_reaches_every_waiting_caller_and_the_next_call_retries() -> None:
    flights: SingleFlight[str] = SingleFlight()

    async def failing() -> str:
        await asyncio.sleep(0.5)
        raise TimeoutError("cassandra timed out")

    async def recovered() -> str:
        return "recovered"

    async def call() -> str:
        try:
            return await flights.run("space-1", failing)
        except TimeoutError as error:
            return f"raised {error}"

    assert concurrently(call) == ["raised cassandra timed out"] * CALLERS
    assert asyncio.run(flights.run("space-1", recovered)) == "recovered"


def test_a_key_is_released_when_its_work_fails() -> None:
    flights: SingleFlight[str] = SingleFlight()

    async def bad_row() -> str:
        raise ValueError("bad row")

    async def ok() -> str:
        return "ok"

    with pytest.raises(ValueError, match="bad row"):
        asyncio.run(flights.run("k", bad_row))
    assert asyncio.run(flights.run("k", ok)) == "ok"


def test_a_cancelled_caller_leaves_the_others_their_answer() -> None:
    flights: SingleFlight[str] = SingleFlight()

    async def slow() -> str:
        await asyncio.sleep(0.2)
        return "value"

    async def scenario() -> tuple[str, bool]:
        leader = asyncio.ensure_future(flights.run("k", slow))
        await asyncio.sleep(0)
        follower = asyncio.ensure_future(flights.run("k", slow))
        other = asyncio.ensure_future(flights.run("k", slow))
        await asyncio.sleep(0)
        follower.cancel()
        value = await other
        await leader
        return value, follower.cancelled()

    assert asyncio.run(scenario()) == ("value", True)
