"""Redis users with least privilege, on a Redis server of the test's own: each part's Redis code runs as its
user, and everything else is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from redis.asyncio import Redis as AsyncRedis

from smartspaces.config import CacheSettings, RedisSettings, load_settings
from smartspaces.connectors.redis import redis_client
from smartspaces.connectors.redis_acl import acl_rule
from smartspaces.stages.cache.active_alarms import (
    forget_active_alarms,
    queue_fill_active_alarms,
    read_active_alarms,
    update_active_alarms,
)
from smartspaces.stages.cache.critical_events import (
    add_critical_events,
    mark_critical_complete,
    mark_critical_lists_complete,
    read_critical_events,
    read_served_critical_events,
)
from smartspaces.stages.cache.latest_readings import (
    mark_latest_complete,
    mark_latest_hashes_complete,
    read_served_latest,
    update_latest,
)
from smartspaces.stages.changefeed.outputs import FeedBatchOutputs
from smartspaces.stages.changefeed.sinks import RedisFeedSink
from smartspaces.stages.serving.cache_client import async_redis_client
from tests.integration.serving_fixtures import PrivateRedis, at, critical_event, reading, unique

TTL_S = 600
PASSWORD = "acl-test-password"
# Each statement is refused to every role: administration, every key outside the platform's, Pub/Sub.
REFUSED = (
    ("FLUSHDB",),
    ("FLUSHALL",),
    ("KEYS", "*"),
    ("SCAN", "0"),
    ("CONFIG", "GET", "*"),
    ("ACL", "LIST"),
    ("SCRIPT", "FLUSH"),
    ("EVAL", "return 1", "0"),
    ("SET", "other:key", "1"),
    ("GET", "other:key"),
    ("HSET", "other:hash", "field", "1"),
    ("PUBLISH", "channel", "message"),
    ("SHUTDOWN",),
)


def alarm_json(space_id: str, number: int) -> dict[str, Any]:
    return {
        "alarm_id": f"alarm-{space_id}-{number}",
        "space_id": space_id,
        "rule_id": "co2-high",
        "state": "active",
        "raised_at": at(number).isoformat(),
        "cleared_at": None,
    }


def run(client: redis.Redis, *statement: str) -> Any:
    return client.execute_command(*statement)  # type: ignore[no-untyped-call]


def settings_of(private_redis: PrivateRedis, user: str | None) -> RedisSettings:
    local = load_settings("local", environ={}).redis
    return local.model_copy(
        update={
            "port": private_redis.port,
            "db": 1,
            "username": user,
            "password": SecretStr(PASSWORD) if user else None,
        }
    )


@pytest.fixture
def users(private_redis: PrivateRedis) -> Iterator[dict[str, RedisSettings]]:
    """The roles' users on the private server (as `smartspaces redis-acl ROLE` prints them), and the admin."""
    admin = redis.Redis(port=private_redis.port, decode_responses=True)
    for role in ("writer", "api"):
        run(admin, *f"ACL SETUSER smartspaces-{role} on >{PASSWORD} {acl_rule(role)}".split())
    yield {role: settings_of(private_redis, f"smartspaces-{role}") for role in ("writer", "api")} | {
        "admin": settings_of(private_redis, None)
    }
    admin.close()


def refusals(client: redis.Redis) -> list[str]:
    """The statements of REFUSED that the client was allowed to run."""
    allowed = []
    for statement in REFUSED:
        try:
            run(client, *statement)
            allowed.append(" ".join(statement))
        except redis.exceptions.NoPermissionError:
            pass
    return allowed


def test_the_change_feed_and_the_warm_up_write_as_the_writer_and_nothing_else(
    users: dict[str, RedisSettings],
) -> None:
    writer = redis_client(users["writer"])
    cache = CacheSettings(critical_per_space=2, critical_ttl_s=TTL_S, latest_ttl_s=TTL_S)
    space, device = unique("space"), unique("dev")
    events = [critical_event(space, number, at(number)) for number in range(3)]
    readings = [reading(device, space, "co2", 400.0 + number, at(number), number) for number in range(2)]

    # The change feed: critical events (two batches: the second's trims the list to the newest K), newest-wins
    # readings, alarms raised and cleared.
    sink = RedisFeedSink(writer, cache)
    sink.write(FeedBatchOutputs(critical_events=events[:2], device_latest=readings[1:], space_latest=readings[1:]))
    sink.write(FeedBatchOutputs(critical_events=events[2:], device_latest=readings[:1], space_latest=readings[:1]))
    raised, cleared = alarm_json(space, 1), {**alarm_json(space, 2), "cleared_at": at(3).isoformat()}
    assert update_active_alarms(writer, [raised, alarm_json(space, 2)], TTL_S) == 2
    assert update_active_alarms(writer, [cleared], TTL_S) == 1
    # The warm-up: the same writers, then the complete markers.
    mark_critical_lists_complete(writer, [space], TTL_S)
    mark_latest_hashes_complete(writer, [f"smartspaces:v1:device:{device}:latest"], TTL_S)

    admin = redis_client(users["admin"])
    assert read_critical_events(admin, space, 10) == events[::-1][:2]
    stored_alarms = admin.hgetall(f"smartspaces:v1:space:{space}:alarms:active")
    assert {field: json.loads(value)["alarm_id"] for field, value in stored_alarms.items()} == {
        raised["alarm_id"]: raised["alarm_id"]
    }
    # After a Redis outage the change feed drops the keys it owes (CacheDebt): a read then refills them.
    assert writer.delete(f"smartspaces:v1:device:{device}:latest") == 1
    assert refusals(writer) == []
    # It reads nothing back but what its scripts read.
    for statement in (
        ("HGETALL", f"smartspaces:v1:space:{space}:alarms:active"),
        ("ZREVRANGE", "smartspaces:v1:x", "0", "1"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            run(writer, *statement)


@pytest.mark.anyio
async def test_the_read_api_reads_fills_and_forgets_as_the_api_user_and_nothing_else(
    users: dict[str, RedisSettings],
) -> None:
    api: AsyncRedis = async_redis_client(users["api"])
    fill = redis_client(users["api"])
    space, device = unique("space"), unique("dev")
    events = [critical_event(space, number, at(number)) for number in range(2)]
    latest = reading(device, space, "temperature", 21.5, at(1), 1)
    latest_key = f"smartspaces:v1:device:{device}:latest"
    try:
        assert await read_served_critical_events(api, space, 5, 5) is None  # a miss: the API reads Cassandra
        pipe = fill.pipeline(transaction=False)
        add_critical_events(pipe, space, events, keep=5, ttl_s=TTL_S)
        mark_critical_complete(pipe, space, TTL_S)
        update_latest(pipe, latest_key, latest, TTL_S)
        mark_latest_complete(pipe, latest_key, TTL_S)
        queue_fill_active_alarms(pipe, space, [alarm_json(space, 1)], TTL_S)
        pipe.execute()

        served = await read_served_critical_events(api, space, 5, 5)
        assert served is not None
        assert [event["critical_event_id"] for event in json.loads(served)] == [
            event["critical_event_id"] for event in events[::-1]
        ]
        assert await read_served_critical_events(api, space, 5, 5) == served  # the array the first read kept
        served_latest = await read_served_latest(api, latest_key)
        assert served_latest is not None
        assert json.loads(served_latest)["temperature"]["value"] == 21.5
        assert [alarm["alarm_id"] for alarm in await read_active_alarms(api, space) or []] == [f"alarm-{space}-1"]
        # An acknowledgement drops the space's hash; the next read fills it again.
        await forget_active_alarms(api, space)
        assert await read_active_alarms(api, space) is None
        assert await api.ping()
        assert refusals(fill) == []
    finally:
        await api.aclose()
        fill.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
