"""Critical events in the real Redis: idempotent adds, trimming to the newest K, completeness, TTLs, scripts."""

from __future__ import annotations

import json

import redis

from smartspaces.stages.cache.critical_events import (
    add_critical_events,
    mark_critical_complete,
    mark_critical_lists_complete,
    read_critical_events,
    write_critical_events,
)
from tests.integration.serving_fixtures import PrivateRedis, at, critical_event, unique

TTL_S = 3600


def index_key(space_id: str) -> str:
    return f"smartspaces:v1:space:{space_id}:critical"


def events_key(space_id: str) -> str:
    return f"smartspaces:v1:space:{space_id}:critical:events"


def complete_key(space_id: str) -> str:
    return f"smartspaces:v1:space:{space_id}:critical:complete"


def stored_list(client: redis.Redis, space_id: str) -> tuple[object, object]:
    """A space's index (ids and scores) and its events hash."""
    return client.zrange(index_key(space_id), 0, -1, withscores=True), client.hgetall(events_key(space_id))


def test_the_same_event_twice_is_stored_once(cache_redis: redis.Redis) -> None:
    space = unique("space")
    event = critical_event(space, 1, at(0, 123))
    for _ in range(2):
        pipe = cache_redis.pipeline(transaction=False)
        add_critical_events(pipe, space, [event, dict(event)], keep=5, ttl_s=TTL_S)
        pipe.execute()
    assert cache_redis.zrange(index_key(space), 0, -1, withscores=True) == [
        (event["critical_event_id"], 1795600800123.0)
    ]
    assert cache_redis.hgetall(events_key(space)) == {
        event["critical_event_id"]: json.dumps(event, sort_keys=True, separators=(",", ":"))
    }


def test_the_json_is_canonical_whatever_the_key_order(cache_redis: redis.Redis) -> None:
    space = unique("space")
    event = critical_event(space, 1, at(0))
    add_critical_events(cache_redis, space, [event], keep=5, ttl_s=TTL_S)
    before = cache_redis.hgetall(events_key(space))
    add_critical_events(cache_redis, space, [dict(reversed(event.items()))], keep=5, ttl_s=TTL_S)
    assert cache_redis.hgetall(events_key(space)) == before


def test_only_the_newest_k_are_kept(cache_redis: redis.Redis) -> None:
    space, keep = unique("space"), 5
    events = [critical_event(space, number, at(number)) for number in range(keep + 3)]
    # Two batches, the second holding older events than some of the first: the trim is across both.
    pipe = cache_redis.pipeline(transaction=False)
    add_critical_events(pipe, space, [events[i] for i in (0, 2, 4, 6)], keep=keep, ttl_s=TTL_S)
    add_critical_events(pipe, space, [events[i] for i in (1, 3, 5, 7)], keep=keep, ttl_s=TTL_S)
    mark_critical_complete(pipe, space, TTL_S)
    pipe.execute()
    newest = [events[i]["critical_event_id"] for i in (7, 6, 5, 4, 3)]
    assert cache_redis.zrevrange(index_key(space), 0, -1) == newest
    assert sorted(cache_redis.hkeys(events_key(space))) == sorted(newest)
    assert read_critical_events(cache_redis, space, keep) == [events[i] for i in (7, 6, 5, 4, 3)]
    assert read_critical_events(cache_redis, space, 2) == [events[7], events[6]]


def test_an_event_older_than_the_newest_k_leaves_the_list_as_it_was(cache_redis: redis.Redis) -> None:
    space = unique("space")
    events = [critical_event(space, number, at(number + 10)) for number in range(3)]
    add_critical_events(cache_redis, space, events, keep=3, ttl_s=TTL_S)
    add_critical_events(cache_redis, space, [critical_event(space, 9, at(1))], keep=3, ttl_s=TTL_S)
    mark_critical_complete(cache_redis, space, TTL_S)
    assert read_critical_events(cache_redis, space, 3) == [events[2], events[1], events[0]]
    assert cache_redis.hlen(events_key(space)) == 3


def test_a_list_without_the_complete_marker_is_a_miss(cache_redis: redis.Redis) -> None:
    space = unique("space")
    event = critical_event(space, 1, at(0))
    assert read_critical_events(cache_redis, space, 5) is None
    add_critical_events(cache_redis, space, [event], keep=5, ttl_s=TTL_S)
    assert read_critical_events(cache_redis, space, 5) is None
    mark_critical_complete(cache_redis, space, TTL_S)
    assert read_critical_events(cache_redis, space, 5) == [event]


def test_a_space_without_events_is_a_complete_empty_list(cache_redis: redis.Redis) -> None:
    space = unique("space")
    mark_critical_complete(cache_redis, space, TTL_S)
    assert read_critical_events(cache_redis, space, 5) == []


def test_equal_times_are_served_in_id_order(cache_redis: redis.Redis) -> None:
    space = unique("space")
    events = [critical_event(space, number, at(5)) for number in range(4)]
    add_critical_events(cache_redis, space, events, keep=10, ttl_s=TTL_S)
    mark_critical_complete(cache_redis, space, TTL_S)
    assert read_critical_events(cache_redis, space, 10) == sorted(events, key=lambda e: e["critical_event_id"])


def test_every_key_expires_after_the_ttl(cache_redis: redis.Redis) -> None:
    space = unique("space")
    add_critical_events(cache_redis, space, [critical_event(space, 1, at(0))], keep=5, ttl_s=TTL_S)
    mark_critical_complete(cache_redis, space, TTL_S)
    ttls = [cache_redis.ttl(key) for key in (index_key(space), events_key(space), complete_key(space))]
    assert all(TTL_S - 5 <= ttl <= TTL_S for ttl in ttls), ttls


def test_scripts_load_themselves_on_a_server_that_never_saw_them(private_redis: PrivateRedis) -> None:
    client = redis.Redis(port=private_redis.port, decode_responses=True)
    space = unique("space")
    event = critical_event(space, 1, at(0))
    client.script_flush()
    pipe = client.pipeline(transaction=False)
    add_critical_events(pipe, space, [event], keep=5, ttl_s=TTL_S)
    mark_critical_complete(pipe, space, TTL_S)
    pipe.execute()
    client.script_flush()
    # A direct call runs EVALSHA, gets NOSCRIPT and loads the script.
    assert read_critical_events(client, space, 5) == [event]
    client.close()


def test_one_script_call_adds_and_trims_many_spaces(cache_redis: redis.Redis) -> None:
    spaces, keep = [unique("space") for _ in range(4)], 3
    # Space i gets i + 2 events, interleaved across spaces, newest not last: every list above K is trimmed.
    events = {space: [critical_event(space, n, at(10 - n)) for n in range(i + 2)] for i, space in enumerate(spaces)}
    rows = [event for n in range(5) for space in spaces for event in events[space][n : n + 1]]
    assert write_critical_events(cache_redis, rows, keep=keep, ttl_s=TTL_S) == set(spaces)
    mark_critical_lists_complete(cache_redis, spaces, TTL_S)
    assert {space: read_critical_events(cache_redis, space, 10) for space in spaces} == {
        space: events[space][:keep] for space in spaces
    }
    assert [cache_redis.hlen(events_key(space)) for space in spaces] == [2, 3, 3, 3]
    ttls = [cache_redis.ttl(key(space)) for space in spaces for key in (index_key, events_key, complete_key)]
    assert all(TTL_S - 5 <= ttl <= TTL_S for ttl in ttls), ttls


def test_writing_the_same_events_again_changes_nothing(cache_redis: redis.Redis) -> None:
    spaces = [unique("space") for _ in range(2)]
    rows = [critical_event(space, n, at(n)) for space in spaces for n in range(6)]
    write_critical_events(cache_redis, rows, keep=4, ttl_s=TTL_S)
    before = [stored_list(cache_redis, space) for space in spaces]
    write_critical_events(cache_redis, rows[::-1] + rows, keep=4, ttl_s=TTL_S)
    assert [stored_list(cache_redis, space) for space in spaces] == before
    assert [index for index, _ in before] == [
        [(critical_event(space, n, at(n))["critical_event_id"], 1795600800000.0 + n * 60_000) for n in (2, 3, 4, 5)]
        for space in spaces
    ]


def test_the_newest_k_are_kept_across_calls_and_older_events(cache_redis: redis.Redis) -> None:
    space = unique("space")
    events = [critical_event(space, n, at(n)) for n in range(8)]
    write_critical_events(cache_redis, [events[i] for i in (1, 6, 3)], keep=3, ttl_s=TTL_S)
    write_critical_events(cache_redis, [events[i] for i in (0, 7, 2, 5, 4)], keep=3, ttl_s=TTL_S)
    mark_critical_lists_complete(cache_redis, [space], TTL_S)
    assert read_critical_events(cache_redis, space, 5) == [events[7], events[6], events[5]]
    assert cache_redis.hlen(events_key(space)) == 3
