"""The .env that docker compose reads: docker-compose.yml's image versions, from smartspaces.pins.

`smartspaces pins compose-env > .env` prints it.
"""

from __future__ import annotations

from smartspaces.pins import load_pins


def compose_env() -> dict[str, str]:
    """Each version variable docker-compose.yml interpolates, with its pinned value."""
    pins = load_pins()
    return {
        "KAFKA_VERSION": pins.servers["kafka"].version,
        "CASSANDRA_VERSION": pins.servers["cassandra"].version,
        "SPARK_VERSION": pins.spark_version,
    }
