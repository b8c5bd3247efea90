"""The enrichment's read floor: its window's events read from Cassandra exactly as the job reads them, and no more.

The same session, the same registry read and the same partition reads (read_window_events); the rows are
counted together with the non-null values of every column the enrichment uses, so the connector reads and
converts each of them (a bare count would let it fetch no column at all).
Run as its own process, like `jobs.enrich`, so the two wall times compare whole: a job cannot be faster
than this. Prints one JSON line: the events read and the seconds of the read alone.

    python -m bench.read_floor --date 2026-11-18 --to 2026-11-24
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from pyspark.sql import functions as F

from smartspaces import lake
from smartspaces.config import Settings
from smartspaces.connectors.delta import read_delta
from smartspaces.entrypoint import JobSetupError, job_parser, run_job
from smartspaces.session import spark_session
from smartspaces.stages.enrichment.inputs import EVENT_COLUMNS, read_window_events
from smartspaces.stages.enrichment.window_args import add_window_arguments, window_from_arguments


def parser() -> argparse.ArgumentParser:
    parser = job_parser("read-floor", __doc__)
    add_window_arguments(parser)
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    window = window_from_arguments(args, settings.enrichment.time_zone, datetime.now(UTC))
    if window is None:
        raise JobSetupError("the read floor reads a window the arguments name; --catch-up is the enrichment's")
    with spark_session(settings, "smartspaces-read-floor") as spark:
        started = time.monotonic()
        devices = read_delta(spark, lake.device_registry(settings.lake))
        events = read_window_events(devices, settings.cassandra.keyspace, window)
        counts = events.agg(
            F.count(F.lit(1)).alias("rows"), *(F.count(column).alias(column) for column in EVENT_COLUMNS)
        ).first()
        read_s = time.monotonic() - started
    assert counts is not None
    print(json.dumps({"read_s": round(read_s, 1), "rows": counts["rows"]}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
