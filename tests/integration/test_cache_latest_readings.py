"""Latest readings in the real Redis: newer event time wins, whatever the arrival order; completeness; TTL."""

from __future__ import annotations

import json
from typing import Any

import redis

from smartspaces.cache.latest_readings import mark_latest_complete, read_latest, update_latest
from tests.integration.serving_fixtures import at, cache_redis, reading, unique

__all__ = ["cache_redis"]  # the fixture, imported for pytest

TTL_S = 3600


def stored(value: dict[str, Any], event_time_ms: int) -> str:
    return json.dumps(value | {"event_time_ms": event_time_ms}, sort_keys=True, separators=(",", ":"))


def test_an_older_reading_does_not_replace_a_newer_one(cache_redis: redis.Redis) -> None:
    device = unique("dev")
    key = f"smartspaces:v1:device:{device}:latest"
    newer = reading(device, "room-1", "temperature", 21.5, at(5, 250), 2)
    older = reading(device, "room-1", "temperature", 19.0, at(4), 1)
    pipe = cache_redis.pipeline(transaction=False)
    update_latest(pipe, key, newer, TTL_S)
    update_latest(pipe, key, older, TTL_S)
    pipe.execute()
    assert cache_redis.hgetall(key) == {"temperature": stored(newer, 1795600800000 + 5 * 60_000 + 250)}


def test_a_newer_reading_replaces_an_older_one(cache_redis: redis.Redis) -> None:
    device = unique("dev")
    key = f"smartspaces:v1:device:{device}:latest"
    older = reading(device, "room-1", "co2", 410.0, at(4), 1)
    newer = reading(device, "room-1", "co2", 655.0, at(6), 2)
    update_latest(cache_redis, key, older, TTL_S)
    update_latest(cache_redis, key, newer, TTL_S)
    mark_latest_complete(cache_redis, key, TTL_S)
    assert read_latest(cache_redis, key) == {"co2": newer}


def test_equal_times_keep_the_greater_event_id_in_either_order(cache_redis: redis.Redis) -> None:
    first, second = unique("dev"), unique("dev")
    one = reading(first, "room-1", "humidity", 40.0, at(3), 1)
    other = reading(first, "room-1", "humidity", 45.0, at(3), 2)
    winner = max(one, other, key=lambda r: r["event_id"])
    for device, order in ((first, (one, other)), (second, (other, one))):
        key = f"smartspaces:v1:device:{device}:latest"
        for candidate in order:
            update_latest(cache_redis, key, candidate, TTL_S)
        mark_latest_complete(cache_redis, key, TTL_S)
        assert read_latest(cache_redis, key) == {"humidity": winner}


def test_each_metric_keeps_its_own_latest(cache_redis: redis.Redis) -> None:
    device = unique("dev")
    key = f"smartspaces:v1:device:{device}:latest"
    readings = [
        reading(device, "room-1", "temperature", 21.5, at(5), 1),
        reading(device, "room-1", "co2", 700.0, at(2), 2),
        reading(device, "room-1", "temperature", 20.0, at(1), 3),
    ]
    pipe = cache_redis.pipeline(transaction=False)
    for value in readings:
        update_latest(pipe, key, value, TTL_S)
    mark_latest_complete(pipe, key, TTL_S)
    pipe.execute()
    assert read_latest(cache_redis, key) == {"co2": readings[1], "temperature": readings[0]}


def test_a_hash_without_the_complete_marker_is_a_miss(cache_redis: redis.Redis) -> None:
    device = unique("dev")
    key = f"smartspaces:v1:device:{device}:latest"
    assert read_latest(cache_redis, key) is None
    update_latest(cache_redis, key, reading(device, "room-1", "co2", 500.0, at(1), 1), TTL_S)
    assert read_latest(cache_redis, key) is None


def test_a_complete_hash_without_readings_is_empty(cache_redis: redis.Redis) -> None:
    key = f"smartspaces:v1:device:{unique('dev')}:latest"
    mark_latest_complete(cache_redis, key, TTL_S)
    assert read_latest(cache_redis, key) == {}


def test_the_hash_expires_after_the_ttl(cache_redis: redis.Redis) -> None:
    device = unique("dev")
    key = f"smartspaces:v1:space:{device}:latest"
    update_latest(cache_redis, key, reading(device, "room-1", "co2", 500.0, at(1), 1), TTL_S)
    assert TTL_S - 5 <= cache_redis.ttl(key) <= TTL_S
