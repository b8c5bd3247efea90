"""The status for people (one screen of aligned plain text, no colour) and for machines (JSON)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from smartspaces.status.sections import (
    ChangeFeedSection,
    EnrichmentRunSummary,
    EnrichmentSection,
    MissedExpectation,
    RedisSection,
    ServersSection,
    StatusReport,
    StreamsSection,
    WriterBacklog,
    count_text,
    duration_text,
    seconds_since,
    short_id,
)

# The widest line the text aims at: a terminal's screen, with room to spare.
WIDTH = 100
INDENT = "  "
# Change-log writers listed; the others (old checkpoints, replays) are counted in one line.
MAX_WRITERS = 5
# Missed expectations listed under a run; the others are counted.
MAX_MISSED = 3
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def render_text(report: StatusReport) -> str:
    """Every section, then what needs attention (or that all is up and fresh)."""
    now = report.checked_at
    lines = [f"smartspaces status: environment {report.environment}, {now.strftime(TIME_FORMAT)} UTC", ""]
    for section in (
        servers_lines(report.servers),
        streams_lines(report.streams, now),
        change_feed_lines(report.change_feed, now),
        enrichment_lines(report.enrichment, now),
        redis_lines(report.redis),
    ):
        lines += [*section, ""]
    problems = report.problems
    if problems:
        lines.append("needs attention:")
        lines += [clip(f"{INDENT}- {problem}") for problem in problems]
    else:
        lines.append("all up and fresh")
    return "\n".join(lines)


def render_json(report: StatusReport) -> dict[str, Any]:
    """The report as JSON values: times in ISO 8601 UTC, with the derived ages and lags and the verdict."""
    now = report.checked_at
    document: dict[str, Any] = _plain(dataclasses.asdict(report))
    for stream, progress in zip(document["streams"]["streams"], report.streams.streams, strict=True):
        stream["committed_age_s"] = seconds_since(progress.committed_at, now)
    for writer, backlog in zip(document["change_feed"]["writers"], report.change_feed.writers, strict=True):
        writer["lag_s"] = backlog.lag_s(now)
    document["change_feed"]["lag_s"] = report.change_feed.lag_s(now)
    return {**document, "ok": report.ok, "problems": report.problems}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# Sections ------------------------------------------------------------------------------------------------------


def servers_lines(section: ServersSection) -> list[str]:
    lines = ["servers"]
    if section.note:
        lines.append(clip(f"{INDENT}{section.note}"))
    rows = [(server.name, server.state, server.endpoint, server_version(server.answer)) for server in section.servers]
    return lines + [clip(line) for line in table(rows)]


def server_version(answer: str) -> str:
    """What a server answered, cut to its name and version (`smartspaces stack status` shows the rest)."""
    return answer.split(",")[0].split(" (")[0] or "-"


def streams_lines(section: StreamsSection, now: datetime) -> list[str]:
    lines = [f"streams (Spark checkpoints in {readable_path(section.checkpoints)})"]
    if section.not_read:
        return [*lines, clip(f"{INDENT}{section.not_read}")]
    if not section.streams:
        return [*lines, f"{INDENT}no streaming query has run yet"]
    header = ("stream", "batch", "committed (UTC)", "ago", "messages", "took", "waiting in Kafka")
    rows = [
        (
            stream.stream,
            text_or_dash(stream.last_batch),
            moment_text(stream.committed_at),
            age_text(stream.committed_at, now),
            count_or_dash(stream.messages),
            "-" if stream.duration_s is None else duration_text(stream.duration_s),
            "?" if stream.waiting_messages is None else f"{stream.waiting_messages:,}",
        )
        for stream in section.streams
    ]
    lines += table([header, *rows], right={1, 3, 4, 5, 6})
    for stream in section.streams:
        if stream.uncommitted_batch is not None:
            lines.append(
                f"{INDENT}{stream.stream}: batch {stream.uncommitted_batch} triggered "
                f"{age_text(stream.uncommitted_since, now)} ago, not committed (running, or replayed at restart)"
            )
    if section.kafka_unavailable:
        lines.append(clip(f"{INDENT}{section.kafka_unavailable.text()}"))
    return lines


def change_feed_lines(section: ChangeFeedSection, now: datetime) -> list[str]:
    lines = [clip(f"change feed (consumer {section.consumer}, {section.backend} backend)")]
    if section.unavailable:
        return [*lines, clip(f"{INDENT}{section.unavailable.text()}")]
    if section.backend != "cassandra":
        positions = [(p.source, moment_text(p.updated_at), age_text(p.updated_at, now)) for p in section.positions]
        return lines + [clip(line) for line in table([("source", "position moved (UTC)", "ago"), *positions])]
    if not section.writers:
        return [*lines, f"{INDENT}the change log is empty: no ingest batch with accepted events yet"]
    shown = sorted(section.writers, key=_writer_order)[:MAX_WRITERS]
    header = ("writer", "read", "last", "pending", "events", "oldest pending (UTC)", "lag")
    rows = [
        (
            short_id(writer.writer_id),
            text_or_dash(writer.read_batch),
            text_or_dash(writer.last_batch),
            count_text(writer.pending_batches, writer.capped),
            f"{writer.pending_events:,}",
            moment_text(writer.oldest_pending_at),
            age_text(writer.oldest_pending_at, now),
        )
        for writer in shown
    ]
    lines += table([header, *rows], right={1, 2, 3, 4, 6})
    hidden = len(section.writers) - len(shown)
    if hidden:
        lines.append(f"{INDENT}and {hidden} more writer(s) (older checkpoints, replays), nothing pending")
    moved = section.last_commit_at
    if moved:
        lines.append(f"{INDENT}position last moved {moment_text(moved)} UTC ({age_text(moved, now)} ago)")
    return lines


def _writer_order(writer: WriterBacklog) -> tuple[bool, float]:
    """Writers with batches pending first, then the most recently committed."""
    committed = writer.last_committed_at.timestamp() if writer.last_committed_at else 0.0
    return (writer.pending_batches == 0, -committed)


def enrichment_lines(section: EnrichmentSection, now: datetime) -> list[str]:
    lines = ["enrichment (reporting.v_enrichment_runs)"]
    if section.unavailable:
        return [*lines, clip(f"{INDENT}{section.unavailable.text()}")]
    if section.latest is None:
        return [*lines, f"{INDENT}no run recorded yet"]
    latest = section.latest
    written = sum(latest.rows_written.values())
    verdict = f"{latest.verdict}, {written:,} rows written" if written else latest.verdict
    rows = [
        ("latest run", run_text(latest, now)),
        ("window", window_text(latest)),
        ("verdict", verdict),
    ]
    rows += [
        ("missed" if index == 0 else "", f"{missed.severity} {expectation_place(missed)} {missed.expectation}")
        for index, missed in enumerate(section.missed[:MAX_MISSED])
    ]
    if len(section.missed) > MAX_MISSED:
        rows.append(("", f"and {len(section.missed) - MAX_MISSED} more"))
    if section.last_written is not None:
        rows += [("last written", run_text(section.last_written, now)), ("", window_text(section.last_written))]
    return lines + [clip(line) for line in table(rows)]


def redis_lines(section: RedisSection) -> list[str]:
    lines = [f"redis (db {section.db})"]
    if section.unavailable:
        return [*lines, clip(f"{INDENT}{section.unavailable.text()}")]
    scope = " (the first keys scanned only)" if section.capped else ""
    counts = [*(f"{name} {count:,}" for name, count in section.families.items()), f"other {section.other_keys:,}"]
    return [
        *lines,
        f"{INDENT}{'keys':<11}{section.keys or 0:,}, {section.keys_with_ttl or 0:,} with a TTL",
        *wrap_items(f"{INDENT}{'by layout':<11}", counts, scope),
    ]


def wrap_items(label: str, items: Sequence[str], tail: str = "") -> list[str]:
    """Items joined by commas after label, wrapped between items (never inside one) within WIDTH."""
    lines = [label]
    for index, item in enumerate(items):
        piece = item + ("," if index < len(items) - 1 else tail)
        if len(lines[-1]) + len(piece) + 1 > WIDTH and lines[-1].strip():
            lines.append(" " * len(label))
        lines[-1] += piece if lines[-1].endswith(" ") or not lines[-1].strip() else " " + piece
    return [line.rstrip() for line in lines]


# Pieces -------------------------------------------------------------------------------------------------------


def table(rows: Sequence[Sequence[str]], right: set[int] | None = None) -> list[str]:
    """Rows as aligned columns two spaces apart, indented; columns in `right` are right-aligned."""
    if not rows:
        return []
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    right = right or set()
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((INDENT + "  ".join(cells)).rstrip())
    return lines


def clip(line: str) -> str:
    """A line cut to WIDTH, so a long answer or error never wraps the screen."""
    return line if len(line) <= WIDTH else line[: WIDTH - 3] + "..."


def text_or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def count_or_dash(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def expectation_place(missed: MissedExpectation) -> str:
    """table.column of an expectation, or the table alone for one on the whole table."""
    return f"{missed.table_name}.{missed.column_name}" if missed.column_name else missed.table_name


def moment_text(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime(TIME_FORMAT)


def age_text(moment: datetime | None, now: datetime) -> str:
    age = seconds_since(moment, now)
    return "-" if age is None else duration_text(age)


def run_text(run: EnrichmentRunSummary, now: datetime) -> str:
    return (
        f"{run.run_id[:8]}, started {moment_text(run.started_at)} UTC ({age_text(run.started_at, now)} ago), "
        f"took {duration_text(run.duration_s)}"
    )


def window_text(run: EnrichmentRunSummary) -> str:
    """A run's window in its time zone: whole local days as first .. last day, else local times."""
    zone = ZoneInfo(run.time_zone)
    start, end = run.window_start.astimezone(zone), run.window_end.astimezone(zone)
    if start.time() == end.time() == datetime.min.time():
        last_day = (end - timedelta(days=1)).date()
        days = start.date().isoformat() if last_day == start.date() else f"{start.date()} .. {last_day}"
        return f"{days} ({run.time_zone})"
    return f"{start.strftime('%Y-%m-%d %H:%M')} .. {end.strftime('%Y-%m-%d %H:%M')} ({run.time_zone})"


def readable_path(path: str) -> str:
    """A local path relative to the working folder when below it (shorter on screen), else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path
