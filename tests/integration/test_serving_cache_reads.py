"""The read API's cache reads on the real Redis: the stored JSON served as it is, in the served order."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
import redis

from smartspaces.config import Settings
from smartspaces.stages.cache.critical_events import (
    add_critical_events,
    critical_keys,
    mark_critical_complete,
    read_critical_events,
    read_served_critical_events,
    write_critical_events,
)
from smartspaces.stages.cache.encoding import canonical_json
from smartspaces.stages.cache.latest_readings import mark_latest_complete, read_served_latest, update_latest
from smartspaces.stages.serving.cache_client import async_redis_client
from tests.integration.serving_fixtures import TEST_REDIS_DB, PrivateRedis, at, critical_event, reading, unique

pytestmark = pytest.mark.anyio

TTL_S = 3600


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def api_redis(settings: Settings, cache_redis: redis.Redis) -> AsyncIterator[redis.asyncio.Redis]:
    """The API's asyncio client on the tests' (flushed) database."""
    client = async_redis_client(settings.redis.model_copy(update={"db": TEST_REDIS_DB}))
    yield client
    await client.aclose()


async def test_the_stored_events_are_served_as_stored_newest_first(
    cache_redis: redis.Redis, api_redis: redis.asyncio.Redis
) -> None:
    space = unique("space")
    events = [critical_event(space, number, at(number)) for number in range(4)]
    add_critical_events(cache_redis, space, events, keep=10, ttl_s=TTL_S)
    mark_critical_complete(cache_redis, space, TTL_S)
    served = await read_served_critical_events(api_redis, space, keep=10, limit=3)
    assert served == ("[" + ",".join(canonical_json(events[n]) for n in (3, 2, 1)) + "]").encode()


async def test_equal_times_are_served_in_id_order_and_the_limit_cuts_that_order(
    cache_redis: redis.Redis, api_redis: redis.asyncio.Redis
) -> None:
    space = unique("space")
    newest = critical_event(space, 9, at(9))
    tied = [critical_event(space, number, at(5)) for number in range(5)]
    add_critical_events(cache_redis, space, [*tied, newest], keep=10, ttl_s=TTL_S)
    mark_critical_complete(cache_redis, space, TTL_S)
    in_id_order = sorted(tied, key=lambda event: event["critical_event_id"])
    served = [await read_served_critical_events(api_redis, space, 10, limit) or b"" for limit in (10, 3)]
    assert [orjson.loads(body) for body in served] == [[newest, *in_id_order], [newest, *in_id_order[:2]]]
    assert orjson.loads(served[0]) == read_critical_events(cache_redis, space, 10)


async def test_a_list_without_the_complete_marker_is_a_miss_and_an_empty_one_is_served_empty(
    cache_redis: redis.Redis, api_redis: redis.asyncio.Redis
) -> None:
    space, empty = unique("space"), unique("space")
    add_critical_events(cache_redis, space, [critical_event(space, 1, at(0))], keep=5, ttl_s=TTL_S)
    mark_critical_complete(cache_redis, empty, TTL_S)
    assert [
        await read_served_critical_events(api_redis, space, 5, 5),
        await read_served_critical_events(api_redis, empty, 5, 5),
    ] == [None, b"[]"]


async def test_a_whole_read_is_kept_until_an_add_and_never_outlives_its_marker(
    cache_redis: redis.Redis, api_redis: redis.asyncio.Redis
) -> None:
    spaces = [unique("space"), unique("space")]
    events = {space: [critical_event(space, number, at(number)) for number in range(3)] for space in spaces}
    for space in spaces:
        add_critical_events(cache_redis, space, events[space], keep=10, ttl_s=TTL_S)
        mark_critical_complete(cache_redis, space, TTL_S)
    first = {space: await read_served_critical_events(api_redis, space, 10, 10) for space in spaces}
    _, _, complete, served = critical_keys(spaces[0])
    kept = cache_redis.get(served)
    assert isinstance(kept, str) and kept.encode() == first[spaces[0]]
    assert 0 < cache_redis.pexpiretime(served) <= cache_redis.pexpiretime(complete)
    assert await read_served_critical_events(api_redis, spaces[0], 10, 10) == first[spaces[0]]

    # One call of the streaming loader adds to both spaces: both kept arrays go, the next reads have the event.
    newer = {space: critical_event(space, 7, at(7)) for space in spaces}
    write_critical_events(cache_redis, list(newer.values()), keep=10, ttl_s=TTL_S)
    assert [cache_redis.exists(critical_keys(space)[3]) for space in spaces] == [0, 0]
    for space in spaces:
        again = await read_served_critical_events(api_redis, space, 10, 10)
        assert orjson.loads(again or b"null") == [newer[space], *events[space][::-1]]

    # Without its marker the list is a miss, whatever array a read kept.
    cache_redis.delete(complete)
    assert cache_redis.exists(served) == 1
    assert await read_served_critical_events(api_redis, spaces[0], 10, 10) is None


async def test_a_read_of_fewer_than_k_keeps_nothing(cache_redis: redis.Redis, api_redis: redis.asyncio.Redis) -> None:
    space = unique("space")
    events = [critical_event(space, number, at(number)) for number in range(5)]
    add_critical_events(cache_redis, space, events, keep=10, ttl_s=TTL_S)
    mark_critical_complete(cache_redis, space, TTL_S)
    partial = await read_served_critical_events(api_redis, space, 10, 3)
    assert read_critical_events(cache_redis, space, 10) == events[::-1]
    assert (orjson.loads(partial or b"null"), cache_redis.exists(critical_keys(space)[3])) == (events[:1:-1], 0)
    # The whole list read after it is kept, and a shorter read still gets its own cut of it.
    assert orjson.loads(await read_served_critical_events(api_redis, space, 10, 10) or b"null") == events[::-1]
    assert await read_served_critical_events(api_redis, space, 10, 3) == partial


async def test_the_read_script_loads_itself_on_a_server_that_never_saw_it(
    settings: Settings, private_redis: PrivateRedis
) -> None:
    blocking = redis.Redis(port=private_redis.port)
    client = async_redis_client(settings.redis.model_copy(update={"port": private_redis.port, "db": 0}))
    space = unique("space")
    event = critical_event(space, 1, at(0))
    add_critical_events(blocking, space, [event], keep=5, ttl_s=TTL_S)
    mark_critical_complete(blocking, space, TTL_S)
    blocking.script_flush()
    assert await read_served_critical_events(client, space, 5, 5) == f"[{canonical_json(event)}]".encode()
    await client.aclose()
    blocking.close()


async def test_latest_readings_are_served_by_metric_without_the_comparison_field(
    cache_redis: redis.Redis, api_redis: redis.asyncio.Redis
) -> None:
    device = unique("dev")
    key = f"smartspaces:v1:device:{device}:latest"
    temperature = reading(device, "room-1", "temperature", 21.5, at(5), 1)
    co2 = reading(device, "room-1", "co2", 655.0, at(6), 2)
    update_latest(cache_redis, key, temperature, TTL_S)
    update_latest(cache_redis, key, co2, TTL_S)
    assert await read_served_latest(api_redis, key) is None
    mark_latest_complete(cache_redis, key, TTL_S)
    served = await read_served_latest(api_redis, key)
    assert served is not None
    assert (served.index(b'"co2"') < served.index(b'"temperature"'), orjson.loads(served)) == (
        True,
        {"co2": co2, "temperature": temperature},
    )
