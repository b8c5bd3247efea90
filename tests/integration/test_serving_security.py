"""The read API lets no one in where they do not belong, on the real Redis and Cassandra: keys and scopes, a
flood of unknown ids, error bodies with Cassandra cut off, a corrupt cache value, docs and headers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any, cast

import orjson
import pytest
from cassandra.cluster import Session
from fastapi.testclient import TestClient
from pydantic import SecretStr

from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.stages.cache.critical_events import critical_keys
from smartspaces.stages.serving.answers import error_answer
from smartspaces.stages.serving.api_keys import Scope, entry, new_key
from smartspaces.stages.serving.app import create_app
from smartspaces.stages.serving.breaker import CircuitBreaker
from smartspaces.stages.serving.cache_client import async_redis_client
from smartspaces.stages.serving.cassandra_reader import CassandraReader
from smartspaces.stages.serving.guarded_store import GuardedStore, StoreBusyError
from smartspaces.stages.serving.reads import CacheAsideReads, ServingStore, UnknownIdError
from tests.integration.serving_fixtures import (
    at,
    critical_event,
    insert_critical_events,
    insert_device,
    insert_device_latest,
    insert_space,
    reading,
    unique,
)
from tests.integration.tcp_proxy import TcpProxy
from transformations.redis_keys import DEVICE_LATEST

READER_KEY = new_key()
REQUESTS, UNKNOWN_IDS = 1000, 200


def secured(settings: Settings, **api: object) -> Settings:
    """Keys required, one reader, docs off (as on AKS), and any other api settings given."""
    keys = SecretStr(entry("board", frozenset({Scope.READ}), READER_KEY))
    update = {"keys": keys, "require_key": True, "docs": False, **api}
    return settings.model_copy(update={"api": settings.api.model_copy(update=update)})


def seeded_space(session: Session) -> tuple[str, list[dict[str, Any]]]:
    space = unique("space")
    insert_space(session, space)
    events = [critical_event(space, number, at(number)) for number in range(3)]
    insert_critical_events(session, events)
    return space, events[::-1]


def test_reads_need_a_reader_key_and_every_answer_has_the_security_headers(
    serving_settings: Settings, session: Session
) -> None:
    space, newest_first = seeded_space(session)
    reader = {"Authorization": f"Bearer {READER_KEY}"}
    with TestClient(create_app(secured(serving_settings))) as client:
        anonymous = [client.get(path) for path in (f"/spaces/{space}/critical-events", f"/spaces/{space}/alarms")]
        served = client.get(f"/spaces/{space}/critical-events", headers=reader)
        alarms = client.get(f"/spaces/{space}/alarms", headers={"X-API-Key": READER_KEY})
        docs = [client.get(path, headers=reader).status_code for path in ("/docs", "/redoc", "/openapi.json")]
        page = client.get(f"/board/spaces/{space}")
    assert [(answer.status_code, answer.headers["www-authenticate"]) for answer in anonymous] == [(401, "Bearer")] * 2
    assert (served.status_code, served.json()["critical_events"]) == (200, newest_first)
    assert (alarms.status_code, alarms.json()["alarms"]) == (200, [])
    assert docs == [404, 404, 404]
    for answer in (*anonymous, served, alarms, page):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in answer.headers["content-security-policy"]


def test_past_its_rate_a_client_gets_429_with_retry_after(serving_settings: Settings, session: Session) -> None:
    space, _ = seeded_space(session)
    settings = secured(serving_settings, rate_limit_per_s=0.5, rate_limit_burst=5)
    with TestClient(create_app(settings)) as client:
        statuses = [client.get(f"/spaces/{space}/critical-events", headers={"X-API-Key": READER_KEY}) for _ in range(7)]
    assert [answer.status_code for answer in statuses] == [200] * 5 + [429] * 2
    assert statuses[-1].headers["retry-after"] == "2"


@pytest.fixture
def counted_session(serving_settings: Settings) -> Iterator[tuple[Session, list[int]]]:
    """A session of its own on the real Cassandra, counting every request it sends."""
    cluster = cassandra_cluster(serving_settings.cassandra)
    session = cluster.connect()
    sent = [0]

    def count(_: object) -> None:
        sent[0] += 1

    session.add_request_init_listener(count)
    yield session, sent
    cluster.shutdown()


async def flood(store: ServingStore, settings: Settings, ids: list[str]) -> int:
    """REQUESTS reads of those ids, 50 at a time; every one must be a 404. Returns how many were."""
    redis, fill_redis = async_redis_client(settings.redis), redis_client(settings.redis)
    reads = CacheAsideReads(redis, fill_redis, store, settings.cache, CircuitBreaker(5.0))
    unknown = 0
    try:
        for start in range(0, REQUESTS, 50):
            answers = await asyncio.gather(
                *(reads.critical_events(space, 10) for space in ids[start : start + 50]), return_exceptions=True
            )
            unknown += sum(isinstance(answer, UnknownIdError) for answer in answers)
    finally:
        await redis.aclose()
        fill_redis.close()
    return unknown


def test_a_flood_of_unknown_ids_costs_at_most_two_store_queries_per_id(
    serving_settings: Settings, counted_session: tuple[Session, list[int]]
) -> None:
    session, sent = counted_session
    keyspace = serving_settings.cassandra.keyspace
    choose = random.Random(7)
    ids = [f"nowhere-{choose.randrange(UNKNOWN_IDS)}" for _ in range(REQUESTS)]
    api = serving_settings.api
    reader = CassandraReader(session, keyspace)
    guarded = GuardedStore(reader, api.max_store_reads, api.unknown_id_ttl_s, api.unknown_ids_max)

    before = sent[0]
    assert asyncio.run(flood(guarded, serving_settings, ids)) == REQUESTS
    guarded_queries = sent[0] - before
    before = sent[0]
    assert asyncio.run(flood(reader, serving_settings, ids)) == REQUESTS
    unguarded_queries = sent[0] - before
    assert guarded_queries <= 2 * UNKNOWN_IDS, guarded_queries
    # The same flood without the guard: what the guard saves (concurrent misses of one id share one read).
    assert unguarded_queries > 2 * UNKNOWN_IDS, unguarded_queries


def test_with_cassandra_cut_off_the_bodies_name_no_host_or_port(serving_settings: Settings, session: Session) -> None:
    space, _ = seeded_space(session)
    cassandra = serving_settings.cassandra
    with TcpProxy(cassandra.host, cassandra.port) as proxy:
        settings = secured(serving_settings)
        settings = settings.model_copy(update={"cassandra": cassandra.model_copy(update={"port": proxy.port})})
        reader = {"Authorization": f"Bearer {READER_KEY}"}
        with TestClient(create_app(settings)) as client:
            assert client.get(f"/spaces/{space}/critical-events", headers=reader).status_code == 200
            proxy.cut()
            answers = [
                client.get(f"/spaces/{unique('space')}/critical-events", headers=reader),
                client.get(f"/spaces/{space}/alarms?state=all", headers=reader),
                client.get("/health"),
            ]
    assert [answer.status_code for answer in answers] == [503, 503, 503]
    assert answers[0].json() == {"detail": "the event store is unavailable; retry"}
    assert answers[2].json() == {"status": "down", "redis": "ok", "cassandra": "down"}
    for answer in answers:
        for leak in ("127.0.0.1", "localhost", str(cassandra.port), str(proxy.port), "Host", "Error"):
            assert leak not in answer.text, (leak, answer.text)


def test_a_corrupt_cache_value_is_a_miss_served_from_cassandra_and_rewritten(
    serving_settings: Settings, session: Session
) -> None:
    space, newest_first = seeded_space(session)
    device = unique("dev")
    insert_device(session, device, space)
    insert_device_latest(session, [reading(device, space, "co2", 640.0, at(3), 1)])
    redis = redis_client(serving_settings.redis)
    index, events, _, served_array = critical_keys(space)
    latest = DEVICE_LATEST.format(device_id=device)
    with TestClient(create_app(serving_settings)) as client:

        def sources() -> list[tuple[int, str]]:
            answers = [client.get(f"/spaces/{space}/critical-events"), client.get(f"/devices/{device}/latest")]
            return [(answer.status_code, answer.json()["source"]) for answer in answers]

        assert sources() == [(200, "cassandra"), (200, "cassandra")]
        assert sources() == [(200, "cache"), (200, "cache")]
        # One event's JSON garbled, with the served array dropped as an add drops it, so the read assembles
        # the array again; the device's hash replaced by a string (reading it is WRONGTYPE).
        redis.hset(events, newest_first[0]["critical_event_id"], "{not json")
        redis.delete(served_array)
        redis.set(latest, "garbage")
        repaired = sources()
        served = client.get(f"/spaces/{space}/critical-events").json()
        # The served array that read kept, garbled: dropped and filled again like the rest.
        redis.set(served_array, "[{not json]")
        array_repaired = client.get(f"/spaces/{space}/critical-events").json()["source"]
        after = sources()
    assert repaired == [(200, "cassandra"), (200, "cassandra")]
    assert served == {"space_id": space, "source": "cache", "critical_events": newest_first}
    assert array_repaired == "cassandra"
    assert after == [(200, "cache"), (200, "cache")]
    assert redis.type(latest) == "hash" and redis.type(index) == "zset"
    assert orjson.loads(redis.hget(events, newest_first[0]["critical_event_id"]) or "null") == newest_first[0]


def test_beyond_its_cap_of_reads_in_flight_a_read_is_refused_at_once(
    serving_settings: Settings, counted_session: tuple[Session, list[int]]
) -> None:
    session, _ = counted_session
    reader = CassandraReader(session, serving_settings.cassandra.keyspace)
    guarded = GuardedStore(reader, max_in_flight=2, unknown_ttl_s=30.0, unknown_max=100)

    async def together() -> list[object]:
        reads = (guarded.critical_events(unique("space"), 10) for _ in range(5))
        return list(await asyncio.gather(*reads, return_exceptions=True))

    answers = asyncio.run(together())
    # The first two went to Cassandra (unknown spaces: None); the other three found the cap full.
    assert [None if answer is None else type(answer).__name__ for answer in answers] == [
        None,
        None,
        "StoreBusyError",
        "StoreBusyError",
        "StoreBusyError",
    ]
    answer = error_answer(cast(StoreBusyError, answers[2]))
    assert (answer.status, dict(answer.headers)) == (503, {"Retry-After": "1"})
