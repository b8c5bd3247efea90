"""A space's newest critical events in Redis: idempotent adds trimmed to the newest K, one-round-trip reads.

Layout (transformations.redis_keys): SPACE_CRITICAL_INDEX, a sorted set of critical_event_id scored by the
event time in epoch ms; SPACE_CRITICAL_EVENTS, a hash critical_event_id -> the event as canonical JSON;
SPACE_CRITICAL_COMPLETE, present only while the two hold the space's complete newest K; and
SPACE_CRITICAL_SERVED, the newest K as one served JSON array, kept by a whole read and dropped by every add.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from smartspaces.stages.cache.encoding import canonical_json, epoch_ms
from smartspaces.stages.cache.lua import lua_script
from smartspaces.stages.cache.pipelining import ENTRIES_PER_CALL, ScriptPipeline, in_round_trips
from transformations.redis_keys import (
    SPACE_CRITICAL_COMPLETE,
    SPACE_CRITICAL_EVENTS,
    SPACE_CRITICAL_INDEX,
    SPACE_CRITICAL_SERVED,
)

# The fields of a critical event, as both writers (stream and API fill) store them; event_time is ISO 8601 UTC.
CRITICAL_EVENT_FIELDS = (
    "critical_event_id",
    "space_id",
    "device_id",
    "rule_id",
    "rule_version",
    "severity",
    "metric",
    "value",
    "unit",
    "code",
    "message",
    "event_time",
    "source_event_id",
)

# For each space (KEYS: its index, events and served keys, in threes), in order: adds its (id, epoch ms, JSON)
# triples and trims both keys to the newest ARGV[1] in one atomic step, so a reader never sees an index entry
# without its event; drops the served array, which no longer holds the newest K; then resets both keys' TTLs
# to ARGV[2]. The same as one call per space, in fewer calls. ARGV
# after the first two: per space, its event count, then its triples. HDEL goes in chunks: Lua's unpack is
# limited to ~8000 values. Returns how many events the trims dropped.
_ADD = lua_script("""
local keep = tonumber(ARGV[1])
local ttl = ARGV[2]
local a = 3
local dropped_total = 0
for k = 1, #KEYS, 3 do
  local index, stored = KEYS[k], KEYS[k + 1]
  redis.call('DEL', KEYS[k + 2])
  local last = a + 3 * tonumber(ARGV[a])
  for i = a + 1, last, 3 do
    redis.call('ZADD', index, ARGV[i + 1], ARGV[i])
    redis.call('HSET', stored, ARGV[i], ARGV[i + 2])
  end
  a = last + 1
  local excess = redis.call('ZCARD', index) - keep
  if excess > 0 then
    local dropped = redis.call('ZRANGE', index, 0, excess - 1)
    redis.call('ZREMRANGEBYRANK', index, 0, excess - 1)
    for j = 1, #dropped, 1000 do
      redis.call('HDEL', stored, unpack(dropped, j, math.min(j + 999, #dropped)))
    end
    dropped_total = dropped_total + excess
  end
  redis.call('EXPIRE', index, ttl)
  redis.call('EXPIRE', stored, ttl)
end
return dropped_total
""")


def critical_keys(space_id: str) -> tuple[str, str, str, str]:
    """The index, events, complete-marker and served keys of a space."""
    return (
        SPACE_CRITICAL_INDEX.format(space_id=space_id),
        SPACE_CRITICAL_EVENTS.format(space_id=space_id),
        SPACE_CRITICAL_COMPLETE.format(space_id=space_id),
        SPACE_CRITICAL_SERVED.format(space_id=space_id),
    )


def newest_first(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Events newest first, ties by critical_event_id: the one order the cache and Cassandra are served in."""
    by_id = sorted(events, key=lambda event: str(event["critical_event_id"]))
    # Python's sort is stable, reverse=True included: events of equal time stay in id order.
    return [dict(event) for event in sorted(by_id, key=lambda event: epoch_ms(str(event["event_time"])), reverse=True)]


def space_args(events: Iterable[Mapping[str, object]], keep: int) -> list[str | int]:
    """A space's part of the add script's arguments: the count, then (id, epoch ms, JSON) for the newest `keep`.

    Events are deduplicated by id (the last one wins, as the hash field would); older ones would be trimmed.
    """
    by_id = {str(event["critical_event_id"]): event for event in events}
    scored = sorted(((epoch_ms(str(event["event_time"])), event_id) for event_id, event in by_id.items()), reverse=True)
    args: list[str | int] = [min(len(scored), keep)]
    for score, event_id in scored[:keep]:
        event = by_id[event_id]
        args += [event_id, score, canonical_json({field: event[field] for field in CRITICAL_EVENT_FIELDS})]
    return args


def add_critical_events(
    pipe: Redis, space_id: str, events: Sequence[Mapping[str, object]], keep: int, ttl_s: int
) -> None:
    """Queues the space's events and a trim to the newest `keep` on `pipe` (a pipeline or a client).

    Idempotent: the id is the sorted-set member and the hash field, and the JSON is canonical, so writing an
    event again changes nothing. Only the newest `keep` of the batch are sent (older ones would be trimmed).
    Both keys' TTLs are reset to ttl_s. Does not mark the list complete: see mark_critical_complete.
    """
    if not events:
        return
    index, stored, _, served = critical_keys(space_id)
    _ADD(keys=[index, stored, served], args=[keep, ttl_s, *space_args(events, keep)], client=pipe)


def write_critical_events(client: Redis, rows: Iterable[Mapping[str, object]], keep: int, ttl_s: int) -> set[str]:
    """Adds each row (CRITICAL_EVENT_FIELDS, event_time as iso_utc spells it) to its space's newest-`keep` list
    as add_critical_events does, spaces grouped ENTRIES_PER_CALL events per script call and pipelined; returns
    the spaces written.

    Idempotent like add_critical_events: a retried or replayed batch adds the same members and fields, and
    the trim keeps the newest `keep` of the union whatever the order.
    """
    with ScriptPipeline(client, _ADD) as pipeline:
        written: set[str] = set()
        for chunk in in_round_trips(rows):
            by_space: dict[str, list[Mapping[str, object]]] = defaultdict(list)
            for row in chunk:
                by_space[str(row["space_id"])].append(row)
            keys: list[str] = []
            args: list[str | int] = [keep, ttl_s]
            for space_id, events in by_space.items():
                index, stored, _, served = critical_keys(space_id)
                keys += [index, stored, served]
                args += space_args(events, keep)
                # About three arguments per event: a call holds about ENTRIES_PER_CALL events, whole spaces.
                if len(args) >= 3 * ENTRIES_PER_CALL:
                    pipeline.call(keys, args, len(args) // 3)
                    keys, args = [], [keep, ttl_s]
            if keys:
                pipeline.call(keys, args, len(args) // 3)
            written.update(by_space)
    return written


def mark_critical_complete(pipe: Redis, space_id: str, ttl_s: int) -> None:
    """Queues the complete marker: the space's keys now hold its complete newest K (after a fill from Cassandra).

    The marker is set first and the two keys' TTLs reset after it, so they never expire before the marker
    (which would make an emptied list look complete).
    """
    index, stored, complete, _ = critical_keys(space_id)
    pipe.set(complete, 1, ex=ttl_s)
    pipe.expire(index, ttl_s)
    pipe.expire(stored, ttl_s)


def mark_critical_lists_complete(client: Redis, space_ids: Iterable[str], ttl_s: int) -> None:
    """mark_critical_complete for each space, pipelined (after every event of those spaces was added)."""
    for chunk in in_round_trips(space_ids):
        pipeline = client.pipeline(transaction=False)
        for space_id in chunk:
            mark_critical_complete(pipeline, space_id, ttl_s)
        pipeline.execute()


def read_critical_events(client: Redis, space_id: str, limit: int) -> list[dict[str, Any]] | None:
    """The space's newest `limit` events, newest first, in one round trip; None when the list is not complete."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")  # ZREVRANGE 0 -1 would return everything
    events: str | None = _READ_SERVED(keys=list(critical_keys(space_id)), args=[limit, limit, 0], client=client)
    return None if events is None else newest_first(json.loads(events))


# The newest ARGV[2] of the newest ARGV[1] events in the order they are served (newest first, equal times by
# critical_event_id ascending, as newest_first orders them), as one JSON array of the stored events (one
# bulk reply: the read API serves it as it is); nil without the complete marker (a miss) or with an index
# entry lacking its event. ZREVRANGE lists equal scores by descending id, so each run of equal scores is
# reversed before the limit is cut. With ARGV[3] = 1 (a read of the whole newest K), the array is taken from
# the served key when an earlier read kept it, else kept there until the marker expires: assembling 20 events
# cost Redis 94 - 104 µs a call (INFO commandstats), returning the kept array 26 µs. Every add drops it.
_READ_SERVED = lua_script("""
if redis.call('EXISTS', KEYS[3]) == 0 then return false end
local whole = ARGV[3] == '1'
if whole then
  local served = redis.call('GET', KEYS[4])
  if served then return served end
end
local listed = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local limit = tonumber(ARGV[2])
local ids = {}
local first = 1
while first <= #listed and #ids < limit do
  local last = first
  while last + 2 <= #listed and listed[last + 3] == listed[first + 1] do last = last + 2 end
  for i = last, first, -2 do
    if #ids < limit then ids[#ids + 1] = listed[i] end
  end
  first = last + 2
end
local events = {}
for i = 1, #ids, 1000 do
  local part = redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 999, #ids)))
  for j = 1, #part do
    if not part[j] then return false end
    events[#events + 1] = part[j]
  end
end
local array = '[' .. table.concat(events, ',') .. ']'
if whole then
  local ttl_ms = redis.call('PTTL', KEYS[3])
  if ttl_ms > 0 then redis.call('SET', KEYS[4], array, 'PX', ttl_ms) end
end
return array
""")


async def read_served_critical_events(client: AsyncRedis, space_id: str, keep: int, limit: int) -> bytes | None:
    """The space's newest `limit` of its newest `keep` events as one JSON array, in newest_first's order.

    One round trip, and the events are never decoded: the array is the stored JSON, ready to be served.
    None when the list is not complete (a miss). A read of all `keep` is kept in Redis for the next one.
    """
    if not 1 <= limit <= keep:
        raise ValueError(f"limit must be in 1..{keep}, got {limit}")
    events: bytes | str | None = await run_script_async(
        client, _READ_SERVED, keys=critical_keys(space_id), args=(keep, limit, int(limit == keep))
    )
    return events.encode() if isinstance(events, str) else events


async def run_script_async(client: AsyncRedis, script: Script, keys: Sequence[str], args: Sequence[str | int]) -> Any:
    """EVALSHA on an asyncio client, loading the script first when the server does not have it (NOSCRIPT)."""
    try:
        return await client.evalsha(script.sha, len(keys), *keys, *args)
    except NoScriptError:
        await client.script_load(script.script)
        return await client.evalsha(script.sha, len(keys), *keys, *args)
