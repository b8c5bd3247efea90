"""A Spark streaming query's checkpoint read from its files: the last micro-batch planned and the last committed.

Spark writes `offsets/N` when it plans batch N (the trigger time and each source's end offsets) and
`commits/N` once the batch's sink has finished. Neither records the batch's duration or row count, so they are
derived: the duration is the commit file's modification time minus the trigger time, and the messages are the
Kafka offsets between batch N-1's end (or the query's initial offsets) and batch N's end. The files are read
from the local file system, without Spark, so a status answers in milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# (topic, partition) -> the next offset to read, as Spark's Kafka source records it.
KafkaOffsets = dict[tuple[str, int], int]


@dataclass(frozen=True)
class PlannedBatch:
    """A micro-batch as its offsets file records it."""

    batch_id: int
    triggered_at: datetime
    # Empty when no source of the query is Kafka.
    end_offsets: KafkaOffsets


@dataclass(frozen=True)
class StreamCheckpoint:
    """What a query's checkpoint says about its progress."""

    stream: str
    query_id: str | None
    last_committed: PlannedBatch | None
    committed_at: datetime | None
    # Where the last committed batch started: the previous batch's end, or the query's initial offsets.
    previous_end: KafkaOffsets | None
    # Planned after the last commit: running now, or to be replayed when the query restarts.
    uncommitted: PlannedBatch | None
    # The offsets the query has read up to: the last committed batch's end, else its initial offsets.
    consumed: KafkaOffsets | None

    @property
    def messages(self) -> int | None:
        """Kafka messages in the last committed batch (None when its start is not recorded)."""
        if self.last_committed is None or self.previous_end is None or not self.last_committed.end_offsets:
            return None
        return messages_between(self.previous_end, self.last_committed.end_offsets)

    @property
    def duration_s(self) -> float | None:
        """From the last committed batch's trigger to its commit: planning, reading and writing."""
        if self.last_committed is None or self.committed_at is None:
            return None
        return max(0.0, (self.committed_at - self.last_committed.triggered_at).total_seconds())


def messages_between(start: KafkaOffsets, end: KafkaOffsets) -> int | None:
    """Messages from start to end over end's partitions; None when a partition's start is unknown."""
    if any(partition not in start for partition in end):
        return None
    return sum(max(0, offset - start[partition]) for partition, offset in end.items())


def waiting_messages(consumed: KafkaOffsets, latest: KafkaOffsets) -> int:
    """Messages Kafka holds beyond what the query has read (a topic recreated since counts as none waiting)."""
    return sum(max(0, latest.get(partition, offset) - offset) for partition, offset in consumed.items())


def kafka_offsets(line: str) -> KafkaOffsets | None:
    """A source's line of an offsets file as Kafka offsets ({"topic": {"partition": offset}}), else None."""
    try:
        offsets = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(offsets, dict) or not offsets:
        return None
    parsed: KafkaOffsets = {}
    for topic, partitions in offsets.items():
        if not isinstance(partitions, dict):
            return None
        for partition, offset in partitions.items():
            if not (partition.isdigit() and isinstance(offset, int)):
                return None
            parsed[(topic, int(partition))] = offset
    return parsed


def parse_offsets_file(batch_id: int, text: str) -> PlannedBatch:
    """An `offsets/N` file: a version line, the batch's metadata, then one line per source ("-": no offsets)."""
    lines = text.splitlines()
    metadata = json.loads(lines[1])
    end_offsets: KafkaOffsets = {}
    for line in lines[2:]:
        end_offsets.update(kafka_offsets(line) or {})
    return PlannedBatch(batch_id, datetime.fromtimestamp(metadata["batchTimestampMs"] / 1000, UTC), end_offsets)


def parse_initial_offsets(text: str) -> KafkaOffsets | None:
    """A Kafka source's `sources/<i>/0` file: a version line, then the offsets the query started from."""
    lines = text.splitlines()
    return kafka_offsets(lines[-1]) if lines else None


def _batch_ids(folder: Path) -> list[int]:
    """The batch ids of a log folder's files (Spark's .crc and temporary files are not batches)."""
    if not folder.is_dir():
        return []
    return sorted(int(path.name) for path in folder.iterdir() if path.name.isdigit())


def _initial_offsets(folder: Path) -> KafkaOffsets | None:
    initial: KafkaOffsets = {}
    for source in sorted((folder / "sources").glob("*/0")):
        initial.update(parse_initial_offsets(source.read_text(encoding="utf-8")) or {})
    return initial or None


def _planned(folder: Path, batch_id: int) -> PlannedBatch | None:
    path = folder / "offsets" / str(batch_id)
    return parse_offsets_file(batch_id, path.read_text(encoding="utf-8")) if path.is_file() else None


def _query_id(folder: Path) -> str | None:
    path = folder / "metadata"
    if not path.is_file():
        return None
    query_id = json.loads(path.read_text(encoding="utf-8")).get("id")
    return str(query_id) if query_id else None


def read_checkpoint(folder: Path) -> StreamCheckpoint:
    """A query's checkpoint folder, read without Spark."""
    commits = _batch_ids(folder / "commits")
    planned = _batch_ids(folder / "offsets")
    initial = _initial_offsets(folder)
    last_committed = _planned(folder, commits[-1]) if commits else None
    previous_end: KafkaOffsets | None = initial
    if last_committed is not None and last_committed.batch_id > 0:
        previous = _planned(folder, last_committed.batch_id - 1)
        previous_end = previous.end_offsets if previous is not None else None
    uncommitted_id = planned[-1] if planned and (not commits or planned[-1] > commits[-1]) else None
    return StreamCheckpoint(
        stream=folder.name,
        query_id=_query_id(folder),
        last_committed=last_committed,
        committed_at=(
            datetime.fromtimestamp((folder / "commits" / str(commits[-1])).stat().st_mtime, UTC) if commits else None
        ),
        previous_end=previous_end,
        uncommitted=_planned(folder, uncommitted_id) if uncommitted_id is not None else None,
        consumed=last_committed.end_offsets if last_committed is not None else initial,
    )


def read_checkpoints(root: Path) -> list[StreamCheckpoint]:
    """Every query's checkpoint below root (a folder with an offsets log or metadata), by stream name."""
    if not root.is_dir():
        return []
    folders = [path for path in root.iterdir() if (path / "offsets").is_dir() or (path / "metadata").is_file()]
    return [read_checkpoint(folder) for folder in sorted(folders)]
