"""The latest reading of each metric in Redis (DEVICE_LATEST / SPACE_LATEST hashes): newer event time wins.

A hash maps metric -> the reading as canonical JSON, with event_time_ms (the epoch ms that newer-wins
compares) added; the COMPLETE_FIELD field marks a hash filled from Cassandra, so a read without it is a miss.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis import Redis

from smartspaces.cache.encoding import canonical_json, epoch_ms
from smartspaces.cache.lua import lua_script
from transformations.redis_keys import COMPLETE_FIELD

# The fields of a reading, as both writers store them (plus event_time_ms); event_time is ISO 8601 UTC.
READING_FIELDS = ("metric", "value", "unit", "event_time", "event_id", "device_id", "space_id")

# Replaces the metric's reading only when the new one is newer (epoch ms; equal times: the greater event_id,
# so the outcome does not depend on arrival order), then resets the hash's TTL. Returns 1 when it replaced.
_UPDATE = lua_script("""
local current = redis.call('HGET', KEYS[1], ARGV[1])
local newer = true
if current then
  local stored = cjson.decode(current)
  local ms = tonumber(ARGV[2])
  newer = ms > stored.event_time_ms or (ms == stored.event_time_ms and ARGV[3] > stored.event_id)
end
if newer then redis.call('HSET', KEYS[1], ARGV[1], ARGV[4]) end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return newer and 1 or 0
""")


def update_latest(pipe: Redis, key: str, reading: Mapping[str, object], ttl_s: int) -> None:
    """Queues the reading on `pipe` (a pipeline or a client); it replaces the metric's field only if newer.

    Idempotent and order-independent: the same reading twice, or an older one after it, leaves the hash as
    it was. The whole hash (complete marker included) expires ttl_s after its last write.
    """
    metric, event_id = reading["metric"], reading["event_id"]
    if not isinstance(metric, str) or not isinstance(event_id, str):
        raise TypeError(f"metric and event_id must be strings, got {metric!r} and {event_id!r}")
    if metric == COMPLETE_FIELD:
        raise ValueError(f"{COMPLETE_FIELD!r} is the complete marker, not a metric")
    event_time_ms = epoch_ms(str(reading["event_time"]))
    stored = {field: reading[field] for field in READING_FIELDS} | {"event_time_ms": event_time_ms}
    _UPDATE(keys=[key], args=[metric, event_time_ms, event_id, canonical_json(stored), ttl_s], client=pipe)


def mark_latest_complete(pipe: Redis, key: str, ttl_s: int) -> None:
    """Queues the complete marker: the hash now holds every metric's latest reading (after a fill).

    The marker lives in the hash itself, so it can never outlive the readings it vouches for.
    """
    pipe.hset(key, COMPLETE_FIELD, 1)
    pipe.expire(key, ttl_s)


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
