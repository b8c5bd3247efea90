"""The read API on the real Redis and Cassandra: hit and miss, 404/422, Redis killed or hung, the page in Chromium."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from cassandra.cluster import Session
from fastapi.testclient import TestClient

from smartspaces.config import Settings
from smartspaces.stages.serving.app import create_app
from tests.integration.serving_fixtures import (
    PrivateRedis,
    TableRows,
    at,
    chromium_dom,
    critical_event,
    insert_critical_events,
    insert_device,
    insert_device_latest,
    insert_space,
    reading,
    unique,
)


def seed_space(session: Session, count: int = 3) -> tuple[str, list[dict[str, Any]]]:
    """A registered space with `count` critical events; returns its id and the events newest first."""
    space = unique("space")
    insert_space(session, space)
    events = [
        critical_event(space, number, at(number, 10 * number), device_id=f"dev-{number}") for number in range(count)
    ]
    insert_critical_events(session, events)
    return space, events[::-1]


def with_redis(settings: Settings, port: int, retry_after_s: float = 5.0) -> Settings:
    """The settings pointed at a private redis-server, with the breaker's retry delay given."""
    return settings.model_copy(
        update={
            "redis": settings.redis.model_copy(update={"port": port, "db": 0}),
            "api": settings.api.model_copy(update={"redis_retry_after_s": retry_after_s}),
        }
    )


def test_a_miss_is_served_from_cassandra_and_the_next_read_from_the_cache(
    serving_settings: Settings, session: Session
) -> None:
    space, newest_first = seed_space(session)
    with TestClient(create_app(serving_settings)) as client:
        miss = client.get(f"/spaces/{space}/critical-events")
        hit = client.get(f"/spaces/{space}/critical-events")
        limited = client.get(f"/spaces/{space}/critical-events", params={"limit": 2})
    assert (miss.status_code, miss.json()) == (
        200,
        {"space_id": space, "source": "cassandra", "critical_events": newest_first},
    )
    assert (hit.status_code, hit.json()) == (
        200,
        {"space_id": space, "source": "cache", "critical_events": newest_first},
    )
    assert limited.json() == {"space_id": space, "source": "cache", "critical_events": newest_first[:2]}


def test_device_latest_miss_then_hit(serving_settings: Settings, session: Session) -> None:
    space, device = unique("space"), unique("dev")
    insert_space(session, space)
    insert_device(session, device, space)
    readings = [
        reading(device, space, "temperature", 22.25, at(7, 5), 1),
        reading(device, space, "co2", 580.0, at(6), 2),
    ]
    insert_device_latest(session, readings)
    expected = {"co2": readings[1], "temperature": readings[0]}
    with TestClient(create_app(serving_settings)) as client:
        miss = client.get(f"/devices/{device}/latest")
        hit = client.get(f"/devices/{device}/latest")
    assert (miss.status_code, miss.json()) == (200, {"device_id": device, "source": "cassandra", "readings": expected})
    assert (hit.status_code, hit.json()) == (200, {"device_id": device, "source": "cache", "readings": expected})


def test_unknown_ids_are_404_and_malformed_ids_422(serving_settings: Settings) -> None:
    keep = serving_settings.cache.critical_per_space
    with TestClient(create_app(serving_settings)) as client:
        answers = {
            path: client.get(path).status_code
            for path in (
                "/spaces/no-such-space/critical-events",
                "/devices/no-such-device/latest",
                "/spaces/bad%20id/critical-events",
                "/devices/bad$id/latest",
                f"/spaces/{'x' * 65}/critical-events",
                "/spaces/no-such-space/critical-events?limit=0",
                f"/spaces/no-such-space/critical-events?limit={keep + 1}",
            )
        }
    assert answers == {
        "/spaces/no-such-space/critical-events": 404,
        "/devices/no-such-device/latest": 404,
        "/spaces/bad%20id/critical-events": 422,
        "/devices/bad$id/latest": 422,
        f"/spaces/{'x' * 65}/critical-events": 422,
        "/spaces/no-such-space/critical-events?limit=0": 422,
        f"/spaces/no-such-space/critical-events?limit={keep + 1}": 422,
    }


def test_health_reports_both_stores(serving_settings: Settings) -> None:
    with TestClient(create_app(serving_settings)) as client:
        health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "redis": "ok", "cassandra": "ok"}


def test_with_redis_killed_the_api_answers_from_cassandra(
    serving_settings: Settings, session: Session, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    space, newest_first = seed_space(session)
    body = {"space_id": space, "critical_events": newest_first}
    with TestClient(create_app(with_redis(serving_settings, private_redis.port))) as client:
        assert client.get(f"/spaces/{space}/critical-events").json() == body | {"source": "cassandra"}
        assert client.get(f"/spaces/{space}/critical-events").json() == body | {"source": "cache"}
        private_redis.kill()
        with caplog.at_level(logging.WARNING, logger="smartspaces.stages.serving"):
            after = [client.get(f"/spaces/{space}/critical-events") for _ in range(3)]
            health = client.get("/health")
    assert [(answer.status_code, answer.json()) for answer in after] == [(200, body | {"source": "cassandra"})] * 3
    assert health.status_code == 200
    # Up, degraded or down: the why (hosts, ports, the driver's text) is in the log, not in the body.
    assert health.json() == {"status": "degraded", "redis": "degraded", "cassandra": "ok"}
    # One warning for the outage, not one per request: the breaker skips Redis after the first failure.
    warnings = [record.getMessage() for record in caplog.records if record.name == "smartspaces.stages.serving"]
    assert len(warnings) == 1
    assert warnings[0].startswith("redis read failed (ConnectionError: ")
    assert warnings[0].endswith("serving from Cassandra and skipping Redis for 5.0 s")


def test_a_hung_redis_costs_one_timeout_then_is_skipped_until_it_answers_again(
    serving_settings: Settings, session: Session, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    space, newest_first = seed_space(session)
    timeout_s = serving_settings.redis.socket_timeout_s
    # Long enough that the five requests after the timeout all fall inside it, however loaded the machine.
    retry_after_s = 3.0
    settings = with_redis(serving_settings, private_redis.port, retry_after_s=retry_after_s)
    with TestClient(create_app(settings)) as client:

        def timed_source() -> tuple[float, str]:
            started = time.monotonic()
            answer = client.get(f"/spaces/{space}/critical-events")
            assert answer.status_code == 200
            assert answer.json()["critical_events"] == newest_first
            return time.monotonic() - started, answer.json()["source"]

        assert timed_source()[1] == "cassandra"
        assert timed_source()[1] == "cache"
        os.kill(private_redis.process.pid, signal.SIGSTOP)  # Redis hangs: connections open, no answers
        caplog.clear()
        try:
            first_s, first_source = timed_source()
            opened_at = time.monotonic()  # the breaker opened when the first request's Redis read timed out
            skipped = [timed_source()[1] for _ in range(5)]
            skipping_s = time.monotonic() - opened_at
        finally:
            os.kill(private_redis.process.pid, signal.SIGCONT)
        timeouts = [record for record in caplog.records if "redis read failed" in record.getMessage()]
        time.sleep(max(0.0, opened_at + retry_after_s - time.monotonic()) + 0.2)  # the breaker's delay
        recovered = timed_source()
    assert (first_source, first_s >= timeout_s) == ("cassandra", True)
    # Redis was asked once: the one timeout, then five answers from Cassandra without asking it.
    assert skipping_s < retry_after_s, "the requests outlasted the breaker's delay: the checks below would not hold"
    assert len(timeouts) == 1
    assert skipped == ["cassandra"] * 5
    assert recovered[1] == "cache"


def test_the_page_shows_the_space_critical_events_in_chromium(
    running_api: str, session: Session, tmp_path: Path
) -> None:
    space, newest_first = seed_space(session)
    dom = chromium_dom(f"{running_api}/spaces/{space}", tmp_path)
    parser = TableRows("events")
    parser.feed(dom)
    columns = ("event_time", "severity", "device_id", "metric", "value", "unit", "code", "message", "rule_id")
    assert parser.rows == [[str(event[column]) for column in columns] for event in newest_first]
    assert f'<span id="space">{space}</span>' in dom
    assert "3 critical events, from " in dom
