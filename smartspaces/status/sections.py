"""What each section of the status holds, and what in it needs an operator: a server down or a stage behind.

Pure: the readers (collect.py) fill these from the stores, the renderers (render.py) print them, and the
problems are derived here from the values and the check's time alone, so each rule is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from smartspaces.stack.local_stack import ServerStatus

# A stream or the change feed with work waiting and nothing committed for this long is behind (or not running).
# Minutes, not the trigger interval: one micro-batch of a large backlog takes minutes on a laptop.
STREAM_STALE_AFTER = timedelta(minutes=5)
# The enrichment runs nightly (spark-operator's ScheduledSparkApplication): a day and a half allows one late run.
ENRICHMENT_STALE_AFTER = timedelta(hours=36)
# The verdict of a run the quality gate stopped (reporting.enrichment_runs' check constraint).
FAILED_VERDICT = "failed"


@dataclass(frozen=True)
class Unavailable:
    """Why a section could not be read: its server did not answer (address and settings given) or refused."""

    server: str
    reason: str
    address: str = ""
    # The settings that say where the server is, for the operator to check.
    keys: str = ""

    def text(self) -> str:
        if self.address:
            return f"{self.server} is not answering at {self.address} ({self.keys}): {self.reason}"
        return f"{self.server}: {self.reason}"

    def problem(self, section: str) -> str:
        """The line under "needs attention": short, the section shows the reason."""
        where = f" is not answering at {self.address}" if self.address else f": {self.reason}"
        return f"{section}: {self.server}{where}"


def seconds_since(moment: datetime | None, now: datetime) -> float | None:
    """How long ago moment was (never negative: a clock a little ahead counts as now)."""
    return None if moment is None else max(0.0, (now - moment).total_seconds())


@dataclass(frozen=True)
class ServersSection:
    """The local stack's servers (local_stack.status), or why there are none to show."""

    servers: tuple[ServerStatus, ...] = ()
    note: str | None = None

    @property
    def down(self) -> set[str]:
        """The servers of the stack that do not answer."""
        return {server.name for server in self.servers if server.state != "running"}

    def problems(self) -> list[str]:
        return [
            f"{server.name} is {server.state} ({server.endpoint}): "
            + ("`smartspaces stack up`" if server.state == "stopped" else "its process runs but does not answer")
            for server in self.servers
            if server.state != "running"
        ]


@dataclass(frozen=True)
class StreamProgress:
    """A streaming query's last micro-batch, from its checkpoint, and what Kafka holds beyond it."""

    stream: str
    query_id: str | None
    last_batch: int | None
    triggered_at: datetime | None
    committed_at: datetime | None
    messages: int | None
    duration_s: float | None
    # Messages Kafka holds beyond the last committed batch; None when Kafka did not answer.
    waiting_messages: int | None
    uncommitted_batch: int | None = None
    uncommitted_since: datetime | None = None

    def problem(self, now: datetime) -> str | None:
        """Behind: messages wait and nothing was committed for STREAM_STALE_AFTER."""
        if not self.waiting_messages:
            return None
        age = seconds_since(self.committed_at, now)
        if age is not None and age <= STREAM_STALE_AFTER.total_seconds():
            return None
        last = "no micro-batch committed yet" if age is None else f"last micro-batch committed {duration_text(age)} ago"
        return f"stream {self.stream}: {self.waiting_messages:,} messages waiting in Kafka, {last}"


@dataclass(frozen=True)
class StreamsSection:
    """Every streaming query with a checkpoint below the lake."""

    checkpoints: str
    streams: tuple[StreamProgress, ...] = ()
    # Why the checkpoints were not read (a lake that is not a local folder): a note, not a problem.
    not_read: str | None = None
    # Why the messages waiting are unknown (Kafka did not answer).
    kafka_unavailable: Unavailable | None = None

    def problems(self, now: datetime) -> list[str]:
        if self.not_read:
            return []
        found = [problem for stream in self.streams if (problem := stream.problem(now))]
        if not self.streams:
            found.append("streams: no streaming query has run yet (no checkpoint below the lake)")
        return found


@dataclass(frozen=True)
class WriterBacklog:
    """One change-log writer against the consumer's position: the batches committed and not yet read."""

    writer_id: str
    # The consumer's position: the last batch it has read (None: it has read none of this writer's).
    read_batch: int | None
    last_batch: int | None
    last_committed_at: datetime | None
    pending_batches: int
    pending_events: int
    oldest_pending_at: datetime | None
    # True when more batches are pending than were counted.
    capped: bool = False

    def lag_s(self, now: datetime) -> float:
        """The change feed's lag on this writer: the age of its oldest batch not yet read (0 when none waits)."""
        return seconds_since(self.oldest_pending_at, now) or 0.0


def writer_backlog(
    writer_id: str,
    read_batch: int | None,
    last: tuple[int, datetime, int] | None,
    pending: list[tuple[int, datetime, int]],
    cap: int,
) -> WriterBacklog:
    """A writer's backlog from its last commit marker and its markers after the position (batch, committed, events),
    oldest first, at most cap + 1 of them: the +1 says that more are pending than were counted."""
    counted = pending[:cap]
    return WriterBacklog(
        writer_id=writer_id,
        read_batch=read_batch,
        last_batch=last[0] if last else None,
        last_committed_at=last[1] if last else None,
        pending_batches=len(counted),
        pending_events=sum(events for _, _, events in counted),
        oldest_pending_at=counted[0][1] if counted else None,
        capped=len(pending) > cap,
    )


@dataclass(frozen=True)
class SourcePosition:
    """A consumer's position on one source, as the change feed last committed it."""

    source: str
    position: str
    updated_at: datetime | None


@dataclass(frozen=True)
class ChangeFeedSection:
    """The change feed's consumer: its positions and, on the change log, each writer's backlog."""

    consumer: str
    backend: str
    positions: tuple[SourcePosition, ...] = ()
    writers: tuple[WriterBacklog, ...] = ()
    unavailable: Unavailable | None = None

    @property
    def last_commit_at(self) -> datetime | None:
        """When the consumer last moved any of its positions."""
        return max((p.updated_at for p in self.positions if p.updated_at is not None), default=None)

    def lag_s(self, now: datetime) -> float:
        return max((writer.lag_s(now) for writer in self.writers), default=0.0)

    def problems(self, now: datetime) -> list[str]:
        if self.unavailable:
            return []
        return [
            f"change feed: writer {short_id(writer.writer_id)} has {count_text(writer.pending_batches, writer.capped)} "
            f"batch(es) ({writer.pending_events:,} events) not read, the oldest committed "
            f"{duration_text(writer.lag_s(now))} ago"
            for writer in self.writers
            if writer.lag_s(now) > STREAM_STALE_AFTER.total_seconds()
        ]


@dataclass(frozen=True)
class EnrichmentRunSummary:
    """A row of reporting.v_enrichment_runs."""

    run_id: str
    window_start: datetime
    window_end: datetime
    time_zone: str
    started_at: datetime
    finished_at: datetime
    verdict: str
    rows_written: dict[str, int]
    data_docs: str | None

    @property
    def duration_s(self) -> float:
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


@dataclass(frozen=True)
class MissedExpectation:
    """An expectation the run did not meet (reporting.v_data_quality, success false)."""

    table_name: str
    column_name: str
    expectation: str
    severity: str


@dataclass(frozen=True)
class EnrichmentSection:
    """The newest enrichment run, what it missed, and (when it failed) the newest run that wrote facts."""

    latest: EnrichmentRunSummary | None = None
    missed: tuple[MissedExpectation, ...] = ()
    last_written: EnrichmentRunSummary | None = None
    unavailable: Unavailable | None = None

    def problems(self, now: datetime) -> list[str]:
        if self.unavailable:
            return []
        if self.latest is None:
            return ["enrichment: no run recorded yet: `smartspaces run enrich`"]
        found = []
        if self.latest.verdict == FAILED_VERDICT:
            failing = sum(1 for missed in self.missed if missed.severity == "fail")
            found.append(
                f"enrichment: the latest run ({self.latest.run_id[:8]}) failed its quality gate, "
                f"{failing} fail-level expectation(s) missed; its window's reports were not updated"
            )
        age = seconds_since(self.latest.started_at, now) or 0.0
        if age > ENRICHMENT_STALE_AFTER.total_seconds():
            found.append(f"enrichment: the latest run started {duration_text(age)} ago")
        return found


@dataclass(frozen=True)
class RedisSection:
    """The configured database's key count, and the keys of each layout of transformations/redis_keys.py."""

    db: int
    keys: int | None = None
    keys_with_ttl: int | None = None
    families: dict[str, int] = field(default_factory=dict)
    other_keys: int = 0
    # True when the scan stopped at its cap: the family counts are of the first keys scanned only.
    capped: bool = False
    unavailable: Unavailable | None = None


@dataclass(frozen=True)
class StatusReport:
    """One look at the platform: every section, read at checked_at."""

    environment: str
    checked_at: datetime
    servers: ServersSection
    streams: StreamsSection
    change_feed: ChangeFeedSection
    enrichment: EnrichmentSection
    redis: RedisSection

    @property
    def problems(self) -> list[str]:
        """One line per thing to look at: servers down, sections not read, stages behind. A stack server that is
        down is named once, not again for each section it kept from being read (those say so on screen)."""
        now = self.checked_at
        down = self.servers.down
        unread = (
            ("streams", self.streams.kafka_unavailable),
            ("change feed", self.change_feed.unavailable),
            ("enrichment", self.enrichment.unavailable),
            ("redis", self.redis.unavailable),
        )
        return [
            *self.servers.problems(),
            *(
                unavailable.problem(section)
                for section, unavailable in unread
                if unavailable is not None and not (unavailable.address and unavailable.server in down)
            ),
            *self.streams.problems(now),
            *self.change_feed.problems(now),
            *self.enrichment.problems(now),
        ]

    @property
    def ok(self) -> bool:
        """Everything up and fresh."""
        return not self.problems


def duration_text(seconds: float) -> str:
    """A duration for people: 0.4s, 12s, 3m05s, 2h10m, 3d04h."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def count_text(count: int, capped: bool) -> str:
    """A count, with "at least" when counting stopped at a cap."""
    return f">={count:,}" if capped else f"{count:,}"


def short_id(writer_id: str) -> str:
    """A writer id for a narrow column: a trailing UUID cut to its first 8 characters (ingest:9364cf59)."""
    prefix, _, last = writer_id.rpartition(":")
    if len(last) == 36 and last.count("-") == 4:
        return f"{prefix}:{last[:8]}" if prefix else last[:8]
    return writer_id
