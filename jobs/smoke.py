"""Smoke flow: readings → Kafka → Spark → Delta bronze and Cassandra → PostgreSQL summary and Redis latest.

Proves every connection of the platform end to end and prints what each stage holds afterwards.
It returns 1 when a stage does not hold exactly what was sent.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from smartspaces.config import Settings
from smartspaces.entrypoint import job_parser, run_job
from smartspaces.stages.smoke.service import SmokeOptions, run_smoke


def parser() -> argparse.ArgumentParser:
    parser = job_parser("smoke", __doc__)
    parser.add_argument("--readings", type=int, default=600, help="readings to send (default 600)")
    parser.add_argument("--devices", type=int, default=6, help="devices they come from (default 6)")
    parser.add_argument("--topic", default="smoke.readings", help="Kafka topic (default smoke.readings)")
    parser.add_argument("--redis-ttl-s", type=int, default=86_400, help="TTL of the Redis keys (default 1 day)")
    parser.add_argument("--run-id", default=None, help="id of this run (default: a new random one)")
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_smoke(settings, SmokeOptions(args.readings, args.devices, args.topic, args.redis_ttl_s, args.run_id))


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
