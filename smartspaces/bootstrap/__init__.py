"""Schema bootstrap: the Cassandra keyspace and tables, the PostgreSQL migrations. Idempotent."""

from __future__ import annotations

from smartspaces.bootstrap.cassandra import apply_cassandra
from smartspaces.bootstrap.postgres import apply_postgres
from smartspaces.config import Settings


def apply_all(settings: Settings) -> list[str]:
    return apply_cassandra(settings.cassandra) + apply_postgres(settings.postgres)
