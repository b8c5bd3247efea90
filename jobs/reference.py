"""Merges a reference drop (spaces and devices: files, PostgreSQL or MySQL tables) into the lake's SCD2 histories.

Refreshes the read API's Cassandra tables of the same names; rejected rows go to the lake's reference rejects
with their reason. What a drop changes: docs/reference-data.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from smartspaces.config import Settings
from smartspaces.entrypoint import job_parser, run_job
from smartspaces.instants import utc_instant
from smartspaces.stages.reference.service import ReferenceDrop, merge_reference_drop


def parser() -> argparse.ArgumentParser:
    parser = job_parser("reference", __doc__)
    parser.add_argument(
        "--source",
        choices=["files", "jdbc", "mysql"],
        default="files",
        help="files: a folder of csv or parquet; jdbc: PostgreSQL tables; mysql: MySQL tables (the mysql settings)",
    )
    parser.add_argument("--drop", help="folder of the drop's files (default: <lake>/landing/reference)")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument(
        "--jdbc-url", help="PostgreSQL database of the reference tables (default: the postgres settings')"
    )
    parser.add_argument(
        "--jdbc-schema",
        help="schema (MySQL: database) holding the tables spaces and devices (default: public; MySQL: the mysql "
        "settings' database)",
    )
    parser.add_argument("--effective-at", type=utc_instant, help="when the drop takes effect (default: now, UTC)")
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    drop = ReferenceDrop(args.source, args.drop, args.format, args.jdbc_url, args.jdbc_schema, args.effective_at)
    return merge_reference_drop(settings, drop)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
