"""The rule state of one change-feed consumer: held in memory between micro-batches, durable in Cassandra.

Loaded once when the processor starts; each micro-batch hands Spark the state as a small local DataFrame
and writes back only the (device, rule) rows that changed. The consumer is the only writer of its
partition, so memory and table stay equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from pyspark.sql import DataFrame, SparkSession

from smartspaces.cassandra_tables import RULE_STATE as RULE_STATE_TABLE
from smartspaces.instants import as_utc
from smartspaces.session import local_dataframe
from transformations.critical_rules import STATE_COLUMNS
from transformations.schemas import RULE_STATE

# Statements in flight at once when writing a batch's rows from the driver.
WRITE_CONCURRENCY = 32

StateRow = tuple[str, str, datetime | None, int | None, datetime | None, bool | None]


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class RuleStateStore:
    """(device_id, rule_id) -> open run, for one consumer."""

    def __init__(self, session: Session, keyspace: str, consumer: str) -> None:
        self.session = session
        self.consumer = consumer
        table = RULE_STATE_TABLE.qualified(keyspace)
        self._upsert = session.prepare(
            f"INSERT INTO {table} (consumer, {', '.join(STATE_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' for _ in STATE_COLUMNS)})"
        )
        rows = session.execute(f"SELECT {', '.join(STATE_COLUMNS)} FROM {table} WHERE consumer = %s", (consumer,))
        self.rows: dict[tuple[str, str], StateRow] = {
            (row.device_id, row.rule_id): (
                row.device_id,
                row.rule_id,
                as_utc(row.run_start),
                row.run_readings,
                as_utc(row.last_event_time),
                row.fired,
            )
            for row in rows
        }

    def as_dataframe(self, spark: SparkSession) -> DataFrame:
        return local_dataframe(spark, list(self.rows.values()), RULE_STATE)

    def save(self, changed: Sequence[Mapping[str, Any]]) -> None:
        """Writes the changed rows (RULE_STATE fields, times as ISO strings), then keeps them in memory."""
        rows: list[StateRow] = [
            (
                row["device_id"],
                row["rule_id"],
                _instant(row["run_start"]),
                row["run_readings"],
                _instant(row["last_event_time"]),
                row["fired"],
            )
            for row in changed
        ]
        execute_concurrent_with_args(
            self.session,
            self._upsert,
            [(self.consumer, *row) for row in rows],
            concurrency=WRITE_CONCURRENCY,
            raise_on_first_error=True,
        )
        self.rows.update({(row[0], row[1]): row for row in rows})
