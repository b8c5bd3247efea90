"""Redis key layouts, versioned (v1) so a layout change can live beside the old one while caches refill.

docs/redis-keys.md describes each layout for the applications that read them.
"""

from __future__ import annotations

# The latest smoke reading of a device: a hash of the reading's fields.
SMOKE_DEVICE_LATEST = "smartspaces:v1:smoke:device:{device_id}:latest"

# A space's newest critical events: a sorted set of critical_event_id scored by event time (epoch ms),
# trimmed to the newest K, beside a hash critical_event_id -> the critical event as JSON.
SPACE_CRITICAL_INDEX = "smartspaces:v1:space:{space_id}:critical"
SPACE_CRITICAL_EVENTS = "smartspaces:v1:space:{space_id}:critical:events"
# Present when the two keys above hold the space's complete newest K (set by a fill from Cassandra or the
# warm-up); the streaming loader adds to a list without making it complete, so a read without it is a miss.
SPACE_CRITICAL_COMPLETE = "smartspaces:v1:space:{space_id}:critical:complete"
# The newest K as the read API serves them (one JSON array), kept by the first whole read of a complete list
# and dropped by every add: a hit is then one GET in Redis instead of assembling the array again.
SPACE_CRITICAL_SERVED = "smartspaces:v1:space:{space_id}:critical:served"

# The latest reading of each metric: a hash metric -> the reading as JSON (newer event_time wins).
DEVICE_LATEST = "smartspaces:v1:device:{device_id}:latest"
SPACE_LATEST = "smartspaces:v1:space:{space_id}:latest"
# The hash field that marks a latest-readings hash as complete (filled from Cassandra or the warm-up).
COMPLETE_FIELD = "_complete"

# A space's active alarms: a hash alarm_id -> the alarm as JSON (lifecycle and acknowledgement), with
# COMPLETE_FIELD once filled from Cassandra; the change feed adds and removes alarms as they raise and clear.
SPACE_ACTIVE_ALARMS = "smartspaces:v1:space:{space_id}:alarms:active"
