"""The cache's circuit breaker and the known-ids set, on a hand-driven clock."""

from __future__ import annotations

from smartspaces.stages.serving.breaker import CircuitBreaker
from smartspaces.stages.serving.expiring_ids import ExpiringIds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_closed_breaker_allows_every_call() -> None:
    breaker = CircuitBreaker(5.0, Clock())
    assert [breaker.allow() for _ in range(3)] == [True, True, True]
    assert breaker.is_closed


def test_after_a_failure_calls_are_skipped_until_the_retry_delay() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, clock)
    assert breaker.failed() is True
    clock.now += 4.5
    assert (breaker.allow(), breaker.seconds_until_retry()) == (False, 0.5)


def test_after_the_delay_one_caller_probes_and_the_others_keep_skipping() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, clock)
    breaker.failed()
    clock.now += 5.0
    assert [breaker.allow() for _ in range(3)] == [True, False, False]


def test_a_successful_probe_closes_the_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, clock)
    breaker.failed()
    clock.now += 5.0
    assert breaker.allow()
    breaker.succeeded()
    assert ([breaker.allow() for _ in range(2)], breaker.is_closed) == ([True, True], True)


def test_a_failed_probe_opens_another_window_and_is_not_reported_as_new() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, clock)
    breaker.failed()
    clock.now += 5.0
    assert breaker.allow()
    assert breaker.failed() is False
    clock.now += 4.0
    assert breaker.allow() is False
    clock.now += 1.0
    assert breaker.allow() is True


def test_a_probe_that_never_reports_is_followed_by_another_after_the_delay() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, clock)
    breaker.failed()
    clock.now += 5.0
    assert breaker.allow()
    clock.now += 5.0
    assert breaker.allow()


def test_known_ids_expire_after_their_ttl() -> None:
    clock = Clock()
    known = ExpiringIds(ttl_s=60.0, max_size=10, clock=clock)
    known.add("space-1")
    clock.now += 59.0
    assert ("space-1" in known, "space-2" in known) == (True, False)
    clock.now += 1.0
    assert "space-1" not in known


def test_known_ids_start_again_empty_when_full() -> None:
    known = ExpiringIds(ttl_s=60.0, max_size=2, clock=Clock())
    for entity_id in ("a", "b", "c"):
        known.add(entity_id)
    assert [entity_id in known for entity_id in ("a", "b", "c")] == [False, False, True]
