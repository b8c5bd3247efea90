"""The Redis cache of critical events and latest readings: pure redis-py code shared by writers and readers.

The Spark loaders call its writers on each Arrow batch of a partition, the change feed from the driver, and
the API to fill on a miss, so all write byte-identical entries. Key layouts: transformations.redis_keys;
what each key holds: docs/redis-keys.md.
"""
