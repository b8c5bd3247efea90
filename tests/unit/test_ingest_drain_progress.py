"""A drain's progress from its query's reports: messages processed, and those left up to the offsets it drains to."""

from __future__ import annotations

from typing import Any

from smartspaces.stages.ingest.metrics import DrainProgress


def report(batch_id: int, rows: int, reached: dict[str, int] | None, latest: dict[str, int]) -> dict[str, Any]:
    """A query progress report as StreamingQuery.recentProgress gives it (one Kafka source on topic `events`)."""
    source = {
        "description": "KafkaV2[Subscribe[events]]",
        "startOffset": None,
        "endOffset": None if reached is None else {"events": reached},
        "latestOffset": {"events": latest},
        "numInputRows": rows,
    }
    return {"id": "q", "name": "ingest", "batchId": batch_id, "numInputRows": rows, "sources": [source]}


DRAINS_TO = {"0": 500, "1": 400, "2": 300}


def test_the_total_is_what_was_processed_plus_what_is_left_to_the_drains_end() -> None:
    drain = DrainProgress()
    assert (drain.messages, drain.total) == (0, None)
    drain.add(report(7, 450, {"0": 300, "1": 250, "2": 200}, DRAINS_TO))
    assert (drain.batches, drain.messages, drain.remaining, drain.total) == (1, 450, 450, 900)
    drain.add(report(8, 450, DRAINS_TO, DRAINS_TO))
    assert (drain.batches, drain.messages, drain.remaining, drain.total) == (2, 900, 0, 900)


def test_a_report_read_twice_is_counted_once() -> None:
    drain = DrainProgress()
    first = report(0, 450, {"0": 150, "1": 150, "2": 150}, DRAINS_TO)
    for reports in ([first], [first, report(1, 300, {"0": 250, "1": 250, "2": 250}, DRAINS_TO)]):
        for progress in reports:
            drain.add(progress)
    assert (drain.batches, drain.messages, drain.total) == (2, 750, 1200)


def test_an_empty_trigger_counts_no_batch() -> None:
    drain = DrainProgress()
    drain.add(report(0, 0, {"0": 0, "1": 0, "2": 0}, {"0": 0, "1": 0, "2": 0}))
    assert (drain.batches, drain.messages, drain.total) == (0, 0, 0)
