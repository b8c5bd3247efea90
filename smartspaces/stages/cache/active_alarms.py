"""A space's active alarms in Redis: the change feed's updates, the read API's fill from Cassandra and read.

Newest-wins per alarm: the change feed writes each alarm's lifecycle as it changes (its micro-batches are
applied in order), removes it when it clears, and keeps the acknowledgement the read API recorded. A read
is a hit only when the hash is complete (filled from Cassandra since it last expired); otherwise the caller
reads Cassandra and fills it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from smartspaces.stages.cache.lua import lua_script
from transformations.redis_keys import COMPLETE_FIELD, SPACE_ACTIVE_ALARMS

# KEYS[i]: a space's active-alarms hash. ARGV: ttl, then per key its alarm id and the alarm's JSON (empty:
# cleared, removed). An acknowledgement already stored is kept: only the read API records one.
_UPDATE = lua_script("""
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local id, value = ARGV[2 * i], ARGV[2 * i + 1]
  if value == '' then
    redis.call('HDEL', key, id)
  else
    local old = redis.call('HGET', key, id)
    if old then
      local before = cjson.decode(old)
      if type(before['acknowledged_at']) == 'string' then
        local alarm = cjson.decode(value)
        alarm['acknowledged_at'] = before['acknowledged_at']
        alarm['acknowledged_by'] = before['acknowledged_by']
        value = cjson.encode(alarm)
      end
    end
    redis.call('HSET', key, id, value)
  end
  redis.call('EXPIRE', key, ttl)
end
return #KEYS
""")
# Alarms per script call.
ALARMS_PER_CALL = 200


def active_alarms_key(space_id: str) -> str:
    return SPACE_ACTIVE_ALARMS.format(space_id=space_id)


def update_active_alarms(client: Redis, alarms: Iterable[Mapping[str, Any]], ttl_s: int) -> int:
    """Adds open alarms (JSON types, times as ISO strings) to their space's hash and removes cleared ones.

    Idempotent: a replayed batch writes the same values. Alarms without a space (building scope) are not
    cached. Returns how many alarms were written.
    """
    keys: list[str] = []
    args: list[str | int] = [ttl_s]
    written = 0
    pipeline = client.pipeline(transaction=False)
    for alarm in alarms:
        if alarm.get("space_id") is None:
            continue
        keys.append(active_alarms_key(alarm["space_id"]))
        args += [alarm["alarm_id"], "" if alarm.get("cleared_at") else json.dumps(alarm, sort_keys=True)]
        written += 1
        if len(keys) >= ALARMS_PER_CALL:
            _UPDATE(keys=keys, args=args, client=pipeline)
            keys, args = [], [ttl_s]
    if keys:
        _UPDATE(keys=keys, args=args, client=pipeline)
    pipeline.execute()
    return written


def queue_fill_active_alarms(pipe: Redis, space_id: str, alarms: Iterable[Mapping[str, Any]], ttl_s: int) -> None:
    """Queues the replacement of the space's hash by its active alarms read from Cassandra, marked complete."""
    key = active_alarms_key(space_id)
    fields = {alarm["alarm_id"]: json.dumps(alarm, sort_keys=True) for alarm in alarms}
    fields[COMPLETE_FIELD] = "1"
    pipe.delete(key)
    pipe.hset(key, mapping=fields)
    pipe.expire(key, ttl_s)


async def read_active_alarms(client: AsyncRedis, space_id: str) -> list[dict[str, Any]] | None:
    """The space's active alarms as stored (newest raised first); None on a miss (not filled since it expired)."""
    stored = await client.hgetall(active_alarms_key(space_id))
    complete = COMPLETE_FIELD.encode()
    if complete not in stored:
        return None
    alarms = [json.loads(value) for field, value in stored.items() if field != complete]
    return sorted(alarms, key=lambda alarm: (alarm["raised_at"], alarm["alarm_id"]), reverse=True)


async def forget_active_alarms(client: AsyncRedis, space_id: str) -> None:
    """Drops the space's hash: the next read fills it from Cassandra (after an acknowledgement, say)."""
    await client.delete(active_alarms_key(space_id))
