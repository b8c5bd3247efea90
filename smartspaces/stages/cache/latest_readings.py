"""The latest reading of each metric in Redis (DEVICE_LATEST / SPACE_LATEST hashes): newer event time wins.

A hash maps metric -> the reading as canonical JSON, with event_time_ms (the epoch ms that newer-wins
compares) added; the COMPLETE_FIELD field marks a hash filled from Cassandra, so a read without it is a miss.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from smartspaces import cassandra_tables
from smartspaces.cassandra_tables import CassandraTable
from smartspaces.stages.cache.encoding import canonical_json, epoch_ms
from smartspaces.stages.cache.lua import lua_script
from smartspaces.stages.cache.pipelining import ENTRIES_PER_CALL, ScriptPipeline, in_round_trips
from transformations.redis_keys import COMPLETE_FIELD, DEVICE_LATEST, SPACE_LATEST

# scope column -> (its Cassandra table, its Redis key template): where the latest readings of a scope live.
LATEST_TABLES: dict[str, tuple[CassandraTable, str]] = {
    "device_id": (cassandra_tables.DEVICE_LATEST, DEVICE_LATEST),
    "space_id": (cassandra_tables.SPACE_LATEST, SPACE_LATEST),
}
# The fields of a reading, as both writers store them (plus event_time_ms); event_time is ISO 8601 UTC.
READING_FIELDS = ("metric", "value", "unit", "event_time", "event_id", "device_id", "space_id")

# For each key (one per reading, repeats allowed), in order: replaces the metric's reading only when the new one
# is newer (epoch ms; equal times: the greater event_id, so the outcome does not depend on arrival order),
# then resets the hash's TTL. The same as one call per reading, in fewer calls. ARGV: the TTL, then per key
# the metric, the epoch ms, the event_id and the JSON. Returns how many readings replaced.
UPDATE_SCRIPT = lua_script("""
local ttl = ARGV[1]
local replaced = 0
for i = 1, #KEYS do
  local a = 4 * i - 2
  local current = redis.call('HGET', KEYS[i], ARGV[a])
  local newer = true
  if current then
    local stored = cjson.decode(current)
    local ms = tonumber(ARGV[a + 1])
    newer = ms > stored.event_time_ms or (ms == stored.event_time_ms and ARGV[a + 2] > stored.event_id)
  end
  if newer then
    redis.call('HSET', KEYS[i], ARGV[a], ARGV[a + 3])
    replaced = replaced + 1
  end
  redis.call('EXPIRE', KEYS[i], ttl)
end
return replaced
""")


def update_args(reading: Mapping[str, object]) -> tuple[str, int, str, str]:
    """The script's arguments for one reading: metric, epoch ms, event_id and the reading as canonical JSON."""
    metric, event_id = reading["metric"], reading["event_id"]
    if not isinstance(metric, str) or not isinstance(event_id, str):
        raise TypeError(f"metric and event_id must be strings, got {metric!r} and {event_id!r}")
    if metric == COMPLETE_FIELD:
        raise ValueError(f"{COMPLETE_FIELD!r} is the complete marker, not a metric")
    event_time_ms = epoch_ms(str(reading["event_time"]))
    stored = {field: reading[field] for field in READING_FIELDS}
    stored["event_time_ms"] = event_time_ms
    return metric, event_time_ms, event_id, canonical_json(stored)


def update_latest(pipe: Redis, key: str, reading: Mapping[str, object], ttl_s: int) -> None:
    """Queues the reading on `pipe` (a pipeline or a client); it replaces the metric's field only if newer.

    Idempotent and order-independent: the same reading twice, or an older one after it, leaves the hash as
    it was. The whole hash (complete marker included) expires ttl_s after its last write.
    """
    UPDATE_SCRIPT(keys=[key], args=[ttl_s, *update_args(reading)], client=pipe)


def write_latest_readings(
    client: Redis, key_template: str, scope: str, rows: Iterable[Mapping[str, object]], ttl_s: int
) -> set[str]:
    """Writes each row (READING_FIELDS, event_time as iso_utc spells it) to key_template.format(**{scope: row[scope]})
    as update_latest does, ENTRIES_PER_CALL readings per script call and pipelined; returns the keys written.

    Idempotent and order-independent like update_latest: the calls replay the rows in order, each reading
    replacing only an older one, so a retried or replayed batch leaves the same hashes.
    """
    with ScriptPipeline(client, UPDATE_SCRIPT) as pipeline:
        key_of: dict[object, str] = {}
        keys: list[str] = []
        args: list[str | int] = [ttl_s]
        for row in rows:
            scope_id = row[scope]
            key = key_of.get(scope_id)
            if key is None:
                key = key_of[scope_id] = key_template.format(**{scope: scope_id})
            keys.append(key)
            args.extend(update_args(row))
            if len(keys) == ENTRIES_PER_CALL:
                pipeline.call(keys, args, len(keys))
                keys, args = [], [ttl_s]
        if keys:
            pipeline.call(keys, args, len(keys))
    return set(key_of.values())


def mark_latest_complete(pipe: Redis, key: str, ttl_s: int) -> None:
    """Queues the complete marker: the hash now holds every metric's latest reading (after a fill).

    The marker lives in the hash itself, so it can never outlive the readings it vouches for.
    """
    pipe.hset(key, COMPLETE_FIELD, 1)
    pipe.expire(key, ttl_s)


def mark_latest_hashes_complete(client: Redis, keys: Iterable[str], ttl_s: int) -> None:
    """mark_latest_complete for each key, pipelined (after every reading of those keys was written)."""
    for chunk in in_round_trips(keys):
        pipeline = client.pipeline(transaction=False)
        for key in chunk:
            mark_latest_complete(pipeline, key, ttl_s)
        pipeline.execute()


def read_latest(client: Redis, key: str) -> dict[str, dict[str, Any]] | None:
    """metric -> reading in one round trip (HGETALL); None when the hash is not complete (a miss)."""
    fields = {_text(name): payload for name, payload in client.hgetall(key).items()}
    if COMPLETE_FIELD not in fields:
        return None
    readings = {metric: json.loads(payload) for metric, payload in sorted(fields.items()) if metric != COMPLETE_FIELD}
    # event_time_ms is for the newer-wins comparison only: readers get the reading as it was written.
    return {metric: {field: reading[field] for field in READING_FIELDS} for metric, reading in readings.items()}


def _text(name: bytes | str) -> str:
    # Clients from redis_client decode responses; others give bytes.
    return name.decode() if isinstance(name, bytes) else name


async def read_served_latest(client: AsyncRedis, key: str) -> bytes | None:
    """metric -> reading as one JSON object, metrics sorted, in one round trip (HGETALL); None when not complete.

    Each stored reading is decoded to drop event_time_ms (the comparison's field, never served) and the object
    is encoded once with orjson: a few small readings, unlike the critical events, which go out as stored.
    """
    fields = {_text(name): payload for name, payload in (await client.hgetall(key)).items()}
    if COMPLETE_FIELD not in fields:
        return None
    readings = {metric: orjson.loads(payload) for metric, payload in sorted(fields.items()) if metric != COMPLETE_FIELD}
    return orjson.dumps(
        {metric: {field: reading[field] for field in READING_FIELDS} for metric, reading in readings.items()}
    )
