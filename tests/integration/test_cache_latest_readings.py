"""Latest readings in the real Redis: newer event time wins, whatever the arrival order; completeness; TTL."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from smartspaces.config import Settings
from smartspaces.connectors.redis import redis_client
from smartspaces.stages.cache.encoding import epoch_ms
from smartspaces.stages.cache.latest_readings import (
    UPDATE_SCRIPT,
    mark_latest_complete,
    mark_latest_hashes_complete,
    read_latest,
    update_latest,
    write_latest_readings,
)
from smartspaces.stages.cache.pipelining import ENTRIES_PER_CALL, ENTRIES_PER_ROUND_TRIP, ScriptPipeline
from tests.integration.serving_fixtures import at, reading, unique

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


def test_one_script_call_applies_newer_wins_across_many_keys(cache_redis: redis.Redis) -> None:
    devices = [unique("dev") for _ in range(3)]
    template = "smartspaces:v1:device:{device_id}:latest"
    first, second, third = devices
    older_then_newer = [
        reading(first, "room-1", "co2", 410.0, at(4), 1),
        reading(first, "room-1", "co2", 655.0, at(6), 2),
    ]
    newer_then_older = [
        reading(second, "room-2", "temperature", 21.5, at(5, 250), 3),
        reading(second, "room-2", "temperature", 19.0, at(4), 4),
        reading(second, "room-2", "humidity", 40.0, at(1), 5),
    ]
    tie = [reading(third, "room-3", "humidity", 40.0, at(3), 6), reading(third, "room-3", "humidity", 45.0, at(3), 7)]
    rows = older_then_newer + newer_then_older + tie
    assert len(rows) < ENTRIES_PER_CALL  # one EVALSHA for all of them
    keys = write_latest_readings(cache_redis, template, "device_id", rows, TTL_S)
    assert keys == {template.format(device_id=device) for device in devices}
    mark_latest_hashes_complete(cache_redis, keys, TTL_S)
    assert [read_latest(cache_redis, template.format(device_id=device)) for device in devices] == [
        {"co2": older_then_newer[1]},
        {"humidity": newer_then_older[2], "temperature": newer_then_older[0]},
        {"humidity": max(tie, key=lambda r: r["event_id"])},
    ]
    assert all(TTL_S - 5 <= cache_redis.ttl(key) <= TTL_S for key in keys)


def test_many_calls_leave_what_one_update_per_reading_leaves(cache_redis: redis.Redis) -> None:
    template = "smartspaces:v1:space:{space_id}:latest"
    spaces = [unique("room") for _ in range(7)]
    metrics = ("co2", "temperature", "humidity")
    rows = [
        reading(f"dev-{number % 5}", spaces[number % 7], metrics[number % 3], float(number), at(number % 11), number)
        for number in range(3 * ENTRIES_PER_CALL + 17)
    ]
    write_latest_readings(cache_redis, template, "space_id", rows, TTL_S)
    written = {space: cache_redis.hgetall(template.format(space_id=space)) for space in spaces}
    cache_redis.flushdb()
    for row in rows:
        update_latest(cache_redis, template.format(space_id=row["space_id"]), row, TTL_S)
    assert {space: cache_redis.hgetall(template.format(space_id=space)) for space in spaces} == written


def test_writing_the_same_readings_again_changes_nothing(cache_redis: redis.Redis) -> None:
    device = unique("dev")
    key = f"smartspaces:v1:device:{device}:latest"
    rows = [reading(device, "room-1", "co2", 500.0 + number, at(number), number) for number in range(5)]
    write_latest_readings(cache_redis, "smartspaces:v1:device:{device_id}:latest", "device_id", rows, TTL_S)
    before = cache_redis.hgetall(key)
    write_latest_readings(cache_redis, "smartspaces:v1:device:{device_id}:latest", "device_id", rows[::-1], TTL_S)
    assert cache_redis.hgetall(key) == before == {"co2": stored(rows[4], 1795600800000 + 4 * 60_000)}


def test_a_redis_that_lost_the_script_gets_it_loaded_and_the_calls_sent_again(cache_redis: redis.Redis) -> None:
    """A restarted Redis has no scripts: the round trip's EVALSHAs find none, load it, and are sent again."""
    template = "smartspaces:v1:device:{device_id}:latest"
    rows = [reading(unique("dev"), "room-1", "co2", 400.0 + number, at(1), number) for number in range(250)]
    cache_redis.script_flush()

    keys = write_latest_readings(cache_redis, template, "device_id", rows, TTL_S)

    assert len(keys) == 250
    assert all(cache_redis.hlen(key) == 1 for key in keys)


def test_a_scripts_error_is_raised_after_its_round_trip_and_the_connection_stays_usable(
    cache_redis: redis.Redis,
) -> None:
    first, second = unique("key"), unique("key")
    pipeline = ScriptPipeline(cache_redis, UPDATE_SCRIPT)
    pipeline.call([first], [TTL_S, "co2", 1, "e-1", json.dumps({"event_time_ms": 1, "event_id": "e-1"})], 1)
    pipeline.flush()
    # Not a number where the script compares epoch ms: a Lua error for this call only.
    pipeline.call([first], [TTL_S, "co2", "not-a-number", "e-2", "{}"], 1)
    pipeline.call([second], [TTL_S, "co2", 1, "e-3", json.dumps({"event_time_ms": 1, "event_id": "e-3"})], 1)

    with pytest.raises(redis.ResponseError, match="compare number with nil"):
        pipeline.flush()

    assert cache_redis.hget(second, "co2") is not None  # the call after the failing one ran
    pipeline.call([second], [TTL_S, "co2", 2, "e-4", json.dumps({"event_time_ms": 2, "event_id": "e-4"})], 1)
    pipeline.flush()
    replaced = cache_redis.hget(second, "co2")
    assert isinstance(replaced, str)
    assert json.loads(replaced)["event_id"] == "e-4"


def many_round_trips(count: int = 3 * ENTRIES_PER_ROUND_TRIP + 17) -> list[dict[str, Any]]:
    """Readings of distinct devices, enough for several round trips (one in flight behind another)."""
    return [reading(f"dev-{number}", "room-1", "co2", 400.0 + number, at(1), number) for number in range(count)]


def assert_each_reading_stored(client: redis.Redis, template: str, rows: list[dict[str, Any]], keys: set[str]) -> None:
    """Every reading (one device each) is its device's only field, exactly as written, and nothing else is there."""
    assert keys == {template.format(device_id=row["device_id"]) for row in rows}
    assert client.dbsize() == len(rows)
    for row in rows:
        stored_hash = client.hgetall(template.format(device_id=row["device_id"]))
        assert stored_hash == {"co2": stored(row, epoch_ms(row["event_time"]))}


def test_round_trips_in_flight_that_find_the_script_missing_are_all_sent_again(cache_redis: redis.Redis) -> None:
    template = "smartspaces:v1:device:{device_id}:latest"
    rows = many_round_trips()
    cache_redis.script_flush()

    keys = write_latest_readings(cache_redis, template, "device_id", rows, TTL_S)

    assert_each_reading_stored(cache_redis, template, rows, keys)


def test_a_connection_lost_with_a_round_trip_in_flight_sends_every_unread_call_again(
    cache_redis: redis.Redis, settings: Settings
) -> None:
    template = "smartspaces:v1:device:{device_id}:latest"
    rows = many_round_trips()
    admin = redis_client(settings.redis)

    def killing_the_connection_midway() -> Any:
        for number, row in enumerate(rows):
            if number == ENTRIES_PER_ROUND_TRIP + ENTRIES_PER_CALL:  # the first round trip in flight
                assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
            yield row

    try:
        keys = write_latest_readings(cache_redis, template, "device_id", killing_the_connection_midway(), TTL_S)
    finally:
        admin.close()

    assert_each_reading_stored(cache_redis, template, rows, keys)


def test_a_scripts_error_with_a_round_trip_behind_it_is_raised_once_both_are_read(cache_redis: redis.Redis) -> None:
    first, second, third = unique("key"), unique("key"), unique("key")
    pipeline = ScriptPipeline(cache_redis, UPDATE_SCRIPT)
    pipeline.call([first], [TTL_S, "co2", 1, "e-0", json.dumps({"event_time_ms": 1, "event_id": "e-0"})], 1)
    pipeline.flush()
    # Not a number where the script compares epoch ms: a Lua error, in flight while the next is sent.
    pipeline.call([first], [TTL_S, "co2", "not-a-number", "e-1", "{}"], ENTRIES_PER_ROUND_TRIP)
    with pytest.raises(redis.ResponseError, match="compare number with nil"):
        pipeline.call([second], [TTL_S, "co2", 1, "e-2", json.dumps({"event_time_ms": 1})], ENTRIES_PER_ROUND_TRIP)

    assert cache_redis.hget(second, "co2") is not None  # the round trip behind it ran and was read
    pipeline.call([third], [TTL_S, "co2", 1, "e-3", json.dumps({"event_time_ms": 1})], 1)
    pipeline.flush()
    assert cache_redis.hget(third, "co2") is not None


def test_a_writer_that_fails_with_a_round_trip_in_flight_gives_its_connection_back(cache_redis: redis.Redis) -> None:
    rows = many_round_trips(ENTRIES_PER_ROUND_TRIP + 1)
    rows[-1] = rows[-1] | {"metric": None}  # refused after the first round trip went out
    pool = cache_redis.connection_pool
    in_use = len(pool._in_use_connections)

    with pytest.raises(TypeError, match="must be strings"):
        write_latest_readings(cache_redis, "smartspaces:v1:device:{device_id}:latest", "device_id", rows, TTL_S)

    assert len(pool._in_use_connections) == in_use
    assert cache_redis.ping()
