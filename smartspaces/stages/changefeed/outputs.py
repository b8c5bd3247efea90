"""A micro-batch's outputs as the driver holds them after the one job that computes them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Row

from transformations.feed_batch import FeedOutput


@dataclass
class FeedBatchOutputs:
    """Counts, critical events, latest readings (per device and per space), the next rule state, alarm readings.

    Rows are dicts of JSON types: ids as strings, times as ISO 8601 UTC strings with microseconds (the
    cache's own spelling), so the Redis writers take them as they are.
    """

    changes: int = 0
    unattributed: int = 0
    critical_events: list[dict[str, Any]] = field(default_factory=list)
    device_latest: list[dict[str, Any]] = field(default_factory=list)
    space_latest: list[dict[str, Any]] = field(default_factory=list)
    rule_state: list[dict[str, Any]] = field(default_factory=list)
    alarm_readings: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: Iterable[Row]) -> FeedBatchOutputs:
        outputs = cls()
        lists = {
            FeedOutput.CRITICAL_EVENT: outputs.critical_events,
            FeedOutput.DEVICE_LATEST: outputs.device_latest,
            FeedOutput.SPACE_LATEST: outputs.space_latest,
            FeedOutput.RULE_STATE: outputs.rule_state,
            FeedOutput.ALARM_READING: outputs.alarm_readings,
        }
        for row in rows:
            kind = FeedOutput(row.kind)
            if kind is FeedOutput.CHANGES:
                outputs.changes = int(row.payload)
            elif kind is FeedOutput.UNATTRIBUTED:
                outputs.unattributed = int(row.payload)
            else:
                lists[kind].append(json.loads(row.payload))
        return outputs

    def critical_by_severity(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self.critical_events:
            counts[event["severity"]] = counts.get(event["severity"], 0) + 1
        return counts
