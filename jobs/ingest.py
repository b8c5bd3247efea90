"""Streaming ingest: Kafka → validation → Cassandra (good events), Delta quarantine (bad), Delta bronze (all).

Modes: a continuous stream with a processing-time trigger (default), --drain to process what Kafka holds
now and stop (availableNow: backfills, tests, the demo), and --replay-from/--replay-to to re-ingest a
period from the bronze archive with the same checks and idempotent writes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from smartspaces.config import load_settings
from smartspaces.session import MICRO_BATCH_CONF, spark_session
from smartspaces.stages.ingest.pipeline import EventIngest, RegistryMissingError


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smartspaces run ingest", description=__doc__)
    parser.add_argument("--env", help="configuration environment (default: $SMARTSPACES_ENV or local)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--drain", action="store_true", help="process what Kafka holds now, then stop")
    mode.add_argument("--replay-from", type=datetime.fromisoformat, help="replay bronze from this time (ISO 8601)")
    parser.add_argument("--replay-to", type=datetime.fromisoformat, help="replay bronze up to this time (exclusive)")
    parser.add_argument("--run-for-s", type=float, help="stop a continuous stream after this many seconds")
    args = parser.parse_args(argv)
    if (args.replay_from is None) != (args.replay_to is None):
        parser.error("--replay-from and --replay-to go together")
    return args


def run_streams(spark: SparkSession, queries: list[StreamingQuery], drain: bool, run_for_s: float | None) -> None:
    """Drained: until every query has caught up. Streaming: until run_for_s (or for ever), or the first
    query that fails (its error is raised), then every query stops."""
    try:
        if drain:
            for query in queries:
                query.awaitTermination()
        else:
            spark.streams.awaitAnyTermination(None if run_for_s is None else math.ceil(run_for_s))
    finally:
        for query in queries:
            query.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("smartspaces").setLevel(logging.INFO)
    settings = load_settings(args.env)
    # A continuous stream runs small micro-batches every trigger; a drain or a replay runs large ones.
    streaming = not args.drain and args.replay_from is None
    with spark_session(settings, "smartspaces-ingest", MICRO_BATCH_CONF if streaming else None) as spark:
        ingest = EventIngest(spark, settings)
        try:
            if args.replay_from is not None:
                ingest.replay(args.replay_from, args.replay_to)
            else:
                run_streams(spark, ingest.start_streams(drain=args.drain), args.drain, args.run_for_s)
        except RegistryMissingError as error:
            print(f"ingest: {error}", file=sys.stderr)
            return 2
        finally:
            ingest.close()
    print(ingest.totals.table())
    logging.getLogger("smartspaces.stages.ingest").info(json.dumps({"event": "ingest_totals", **ingest.totals.as_dict()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
