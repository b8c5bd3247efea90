"""The ingest stage as it runs: a continuous stream, a drain of what Kafka holds now, or a replay of bronze."""

from __future__ import annotations

import json
import logging
import math
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from pyspark.sql import SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from smartspaces import progress
from smartspaces.config import Settings
from smartspaces.connectors.delta import table_defaults_conf
from smartspaces.session import MICRO_BATCH_CONF, spark_session
from smartspaces.stages.ingest.metrics import DrainProgress
from smartspaces.stages.ingest.pipeline import FREQUENT_APPEND_TABLE_PROPERTIES, EventIngest

logger = logging.getLogger("smartspaces.stages.ingest")
# Declares the lake's pool (pipeline.LAKE_POOL) to the fair scheduler.
FAIR_SCHEDULER_FILE = "fair-scheduler.xml"
# How often a drain reads its queries' progress (each read is one call to the JVM per retained report).
DRAIN_PROGRESS_S = 2


@dataclass(frozen=True)
class IngestMode:
    """Streaming (the default), drained (`drain`), or a replay of [replay_from, replay_to) from bronze."""

    drain: bool = False
    replay_from: datetime | None = None
    replay_to: datetime | None = None
    run_for_s: float | None = None
    # The streams start over on empty checkpoints on purpose (EventIngest.check_checkpoints).
    new_checkpoints: bool = False

    @property
    def streaming(self) -> bool:
        return not self.drain and self.replay_from is None


def await_drain(queries: list[StreamingQuery]) -> None:
    """Until every query has caught up (a failed query's error is raised), with a progress step per query:
    its micro-batches, and the messages it has processed of those it drains."""
    with ExitStack() as steps:
        drains = {
            query: (DrainProgress(), steps.enter_context(progress.step(f"ingest drain: {query.name}", unit="messages")))
            for query in queries
        }

        def show() -> None:
            for query, (drain, step) in drains.items():
                for report in query.recentProgress:
                    drain.add(report)
                ended = not query.isActive
                if drain.total is not None:
                    detail = f"{drain.batches} micro-batch(es)"
                else:
                    detail = "nothing to drain" if ended else "starting"
                step.update(drain.messages, drain.total, detail)
                # A failed query's step ends with its error, raised by awaitTermination.
                if ended and query.exception() is None:
                    step.end()

        for query in queries:
            while not query.awaitTermination(DRAIN_PROGRESS_S):
                show()
        show()


def run_streams(spark: SparkSession, queries: list[StreamingQuery], drain: bool, run_for_s: float | None) -> None:
    """Drained: until every query has caught up. Streaming: until run_for_s (or for ever), or the first
    query that fails (its error is raised), then every query stops."""
    try:
        if drain:
            await_drain(queries)
        else:
            spark.streams.awaitAnyTermination(None if run_for_s is None else math.ceil(run_for_s))
    finally:
        for query in queries:
            query.stop()


def ingest_spark_conf(mode: IngestMode) -> dict[str, str]:
    """The ingest's own Spark settings: the archive's scheduler pool, the properties of the lake tables it creates
    (FREQUENT_APPEND_TABLE_PROPERTIES); for the streams, adaptive execution off.

    Spark cannot use adaptive execution in a streaming query (it says so at each start), and a continuous
    stream's small micro-batches also run best uncompiled (MICRO_BATCH_CONF); a replay is a batch job.
    """
    conf = {
        "spark.scheduler.allocation.file": str(resources.files(__package__).joinpath(FAIR_SCHEDULER_FILE)),
        **table_defaults_conf(FREQUENT_APPEND_TABLE_PROPERTIES),
    }
    if mode.streaming:
        return {**conf, **MICRO_BATCH_CONF}
    if mode.drain:
        return {**conf, "spark.sql.adaptive.enabled": "false"}
    return conf


def run_ingest(settings: Settings, mode: IngestMode) -> int:
    """Runs the ingest in its mode, then prints what it accepted, quarantined and skipped."""
    # A continuous stream runs small micro-batches every trigger; a drain or a replay runs large ones.
    with spark_session(settings, "smartspaces-ingest", ingest_spark_conf(mode)) as spark:
        ingest = EventIngest(spark, settings)
        try:
            if mode.replay_from is not None and mode.replay_to is not None:
                ingest.replay(mode.replay_from, mode.replay_to)
            else:
                queries = ingest.start_streams(drain=mode.drain, new_checkpoints=mode.new_checkpoints)
                run_streams(spark, queries, mode.drain, mode.run_for_s)
                ingest.finish()
        finally:
            ingest.close()
    print(ingest.totals.table())
    logger.info(json.dumps({"event": "ingest_totals", **ingest.totals.as_dict()}))
    return 0
