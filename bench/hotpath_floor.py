"""The hot path's physical floor: a plain consumer that writes each message to Cassandra and Redis at once.

No Spark, no validation, no rules: confluent-kafka polls, cassandra-driver writes each batch concurrently,
one Redis pipeline per batch. Latency = the moment both writes of a message are acknowledged minus its Kafka
timestamp (produce). Run by bench.hotpath_bench as its own process, so it does not share the producer's GIL.

`python -m bench.hotpath_floor --topic T --keyspace K --redis-db N --seconds S --out latencies.json`
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cassandra.concurrent import execute_concurrent_with_args
from confluent_kafka import Consumer

from smartspaces.config import load_settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.kafka_admin import client_config
from smartspaces.connectors.redis import redis_client

FLOOR_KEY = "smartspaces:bench:floor:{event_id}"
FLOOR_TTL_S = 600


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--keyspace", required=True)
    parser.add_argument("--redis-db", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True, help="stop this long after the first message")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    settings = load_settings("local")
    redis = redis_client(settings.redis.model_copy(update={"db": args.redis_db}))
    cluster = cassandra_cluster(settings.cassandra)
    session = cluster.connect(args.keyspace)
    insert = session.prepare(
        "INSERT INTO events_by_device_day (device_id, day, event_time, event_id, event_type, metric, value, unit, "
        "code, ingest_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    consumer = Consumer(
        {**client_config(settings.kafka), "group.id": f"floor-{uuid.uuid4()}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([args.topic])
    latencies: list[float] = []
    skipped = 0
    deadline = float("inf")
    print("floor: consuming", file=sys.stderr, flush=True)
    try:
        while time.monotonic() < deadline:
            messages = [message for message in consumer.consume(500, timeout=0.05) if message.error() is None]
            rows, produced = [], []
            for message in messages:
                try:
                    event = json.loads(message.value() or b"")
                    event_time = datetime.fromisoformat(event["event_time"])
                    rows.append(
                        (
                            event["device_id"],
                            event_time.date(),
                            event_time,
                            uuid.UUID(event["event_id"]),
                            event["event_type"],
                            event.get("metric"),
                            event.get("value"),
                            event.get("unit"),
                            event.get("code"),
                            datetime.fromtimestamp(message.timestamp()[1] / 1000, UTC),
                        )
                    )
                    produced.append(message.timestamp()[1] / 1000)
                except (ValueError, KeyError, TypeError):
                    skipped += 1
            if not rows:
                continue
            if deadline == float("inf"):
                deadline = time.monotonic() + args.seconds
            execute_concurrent_with_args(session, insert, rows, concurrency=64, raise_on_first_error=True)
            pipeline = redis.pipeline(transaction=False)
            for row in rows:
                pipeline.set(FLOOR_KEY.format(event_id=row[3]), row[0], ex=FLOOR_TTL_S)
            pipeline.execute()
            done = time.time()
            latencies.extend(done - at for at in produced)
    finally:
        consumer.close()
        cluster.shutdown()
    Path(args.out).write_text(json.dumps({"latencies": latencies, "skipped": skipped}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
