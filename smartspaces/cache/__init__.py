"""The Redis cache of critical events and latest readings: pure redis-py code shared by writers and readers.

The streaming loader calls it inside Spark's foreachPartition (on a non-transactional pipeline) and the API
calls it to fill on a miss, so both write byte-identical entries. Key layouts: transformations.redis_keys;
what each key holds: docs/redis-keys.md.
"""
