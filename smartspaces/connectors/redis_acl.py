"""Redis users with least privilege: the commands and keys each part of the platform needs, as ACL rules.

The rules are Redis's ACL syntax (`ACL SETUSER <name> on ><password> <rule>`); Azure Cache for Redis takes the
same permissions string in a custom data access policy. Commands that Lua scripts run are checked against the
caller's rules too, so each rule grants the commands inside the scripts its part runs. Nothing else is allowed:
no other keys, no Pub/Sub channel, no administration (FLUSHDB, KEYS, CONFIG, SCRIPT FLUSH, ACL, DEBUG...).
`tests/integration/test_redis_acl.py` runs each part's Redis code as its user and checks the refusals.
"""

from __future__ import annotations

# Every key the platform writes (transformations/redis_keys.py): versioned layouts under one prefix.
KEY_PATTERN = "smartspaces:v1:*"

# What every client does on a connection: authenticate (always allowed), choose its database, ping. redis-py's
# CLIENT SETINFO (Redis 7.2) is left out: it ignores a refusal, and older servers reject the rule naming it.
_CONNECTION = ("ping", "select")
# Scripts run by their SHA1; a pipeline checks and loads them first (redis-py's Script).
_SCRIPTS = ("evalsha", "script|exists", "script|load")
# The commands inside the writers' scripts and pipelines: the newest-K critical events (add, trim, expire),
# newest-wins latest readings, active alarms (update, clear), the complete markers, and DEL: the change feed
# drops the keys a Redis outage left stale (its cache debt), the read API replaces a filled hash.
_WRITES = ("hget", "hset", "hdel", "zadd", "zcard", "zrange", "zremrangebyrank", "expire", "set", "del")
# The read API's reads: the critical-events read script (EXISTS, GET and PTTL of the served array, ZREVRANGE,
# HMGET; it keeps the array it assembled with SET) and whole hashes (HGETALL).
_READS = ("exists", "get", "pttl", "zrevrange", "hmget", "hgetall")

ROLE_COMMANDS: dict[str, tuple[str, ...]] = {
    # The change feed and the cache warm-up: they write what Cassandra holds, and read nothing back.
    "writer": (*_CONNECTION, *_SCRIPTS, *_WRITES),
    # The read API: reads, and fills what it read from Cassandra on a miss.
    "api": (*_CONNECTION, *_SCRIPTS, *_WRITES, *_READS),
}


def acl_rule(role: str) -> str:
    """The role's ACL rule: its keys, no channels, and exactly its commands."""
    if role not in ROLE_COMMANDS:
        raise ValueError(f"unknown Redis role {role!r}: one of {', '.join(ROLE_COMMANDS)}")
    commands = " ".join(f"+{command}" for command in ROLE_COMMANDS[role])
    return f"resetkeys ~{KEY_PATTERN} resetchannels -@all {commands}"
