"""Structured (JSON) logs of each micro-batch: what came in, what was accepted, what was quarantined and why."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from pyspark.sql.streaming.listener import StreamingQueryListener

LOG = logging.getLogger("smartspaces.stages.ingest")


@dataclass
class BatchCounts:
    """One micro-batch's verdicts."""

    batch_id: int
    messages: int = 0
    accepted_events: int = 0
    duplicates: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # Seconds of each step of the batch (some run side by side, so they need not add up to `seconds`).
    step_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timing(self, step: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.step_s[step] = round(time.monotonic() - started, 3)

    def log(self) -> None:
        LOG.info(json.dumps({"event": "ingest_batch", **asdict(self)}, sort_keys=True))


@dataclass
class RunTotals:
    """The sum over the micro-batches this process ran."""

    batches: int = 0
    messages: int = 0
    accepted_events: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)

    def add(self, batch: BatchCounts) -> None:
        self.batches += 1
        self.messages += batch.messages
        self.accepted_events += batch.accepted_events
        self.duplicates += batch.duplicates
        self.quarantined.update(batch.quarantined)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "quarantined": dict(sorted(self.quarantined.items()))}

    def table(self) -> str:
        """A summary for people: what came in, and where it went."""
        lines = [
            f"ingest: {self.messages} messages in {self.batches} micro-batch(es)",
            f"  {'stored in Cassandra (distinct events)':<40} {self.accepted_events:>9}",
            f"  {'duplicates (stored once)':<40} {self.duplicates:>9}",
            f"  {'quarantined':<40} {sum(self.quarantined.values()):>9}",
        ]
        lines += [f"    {reason:<38} {count:>9}" for reason, count in sorted(self.quarantined.items())]
        return "\n".join(lines)


@dataclass
class DrainProgress:
    """How far a drained query is: messages processed, and those left up to the offsets it drains to.

    A drain (availableNow) reads Kafka's end offsets when it starts and stops there; each micro-batch's
    progress reports them as its source's `latestOffset`, next to the `endOffset` it has reached."""

    batches: int = 0
    messages: int = 0
    remaining: int | None = None
    _last_batch_id: int = -1

    def add(self, progress: dict[str, Any]) -> None:
        """Counts one of the query's progress reports (StreamingQuery.recentProgress); a report seen before is
        skipped, so the reports can be handed over as often as they are read."""
        batch_id = int(progress["batchId"])
        if batch_id <= self._last_batch_id:
            return
        self._last_batch_id = batch_id
        rows = int(progress.get("numInputRows") or 0)
        if rows:
            self.batches += 1
            self.messages += rows
        left = [_offsets_behind(source.get("endOffset"), source.get("latestOffset")) for source in progress["sources"]]
        if all(count is not None for count in left):
            self.remaining = sum(count for count in left if count is not None)

    @property
    def total(self) -> int | None:
        """Messages of the drain: processed plus remaining (None until the first report)."""
        return None if self.remaining is None else self.messages + self.remaining


def _offsets_behind(reached: Any, latest: Any) -> int | None:
    """Offsets from `reached` to `latest` over every partition ({"topic": {"0": offset}}, as Spark reports them)."""
    if not isinstance(reached, dict) or not isinstance(latest, dict):
        return None
    return sum(
        max(0, int(offset) - int(reached.get(topic, {}).get(partition, offset)))
        for topic, partitions in latest.items()
        for partition, offset in partitions.items()
    )


class ProgressLogger(StreamingQueryListener):
    """Logs Spark's own progress of each trigger: input rate against processing rate, and durations."""

    # The method names are PySpark's listener interface.

    def onQueryStarted(self, event: Any) -> None:  # noqa: N802
        LOG.info(
            json.dumps(
                {"event": "ingest_started", "query": event.name, "id": str(event.id), "run_id": str(event.runId)}
            )
        )

    def onQueryProgress(self, event: Any) -> None:  # noqa: N802
        progress = event.progress
        LOG.info(
            json.dumps(
                {
                    "event": "ingest_progress",
                    "query": progress.name,
                    "batch_id": progress.batchId,
                    "input_rows": progress.numInputRows,
                    "input_rows_per_s": round(progress.inputRowsPerSecond, 1),
                    "processed_rows_per_s": round(progress.processedRowsPerSecond, 1),
                    "duration_ms": progress.durationMs,
                }
            )
        )

    def onQueryIdle(self, event: Any) -> None:  # noqa: N802
        pass

    def onQueryTerminated(self, event: Any) -> None:  # noqa: N802
        LOG.info(json.dumps({"event": "ingest_terminated", "id": str(event.id), "error": event.exception}))
