"""Loads a reference drop (spaces and devices, CSV or parquet) into the lake's registry tables.

The ingest checks every event's device against the device registry; the read API finds known spaces and
devices in Cassandra tables of the same names, written here too. Rows without a key, or with a key
twice in the drop, are not loaded: they are printed with their reason and counted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pyspark.sql import functions as F

from smartspaces import lake
from smartspaces.config import load_settings
from smartspaces.connectors.cassandra import write_cassandra
from smartspaces.connectors.delta import read_reference_drop, write_delta
from smartspaces.session import spark_session
from transformations.reference import with_reference_verdict
from transformations.schemas import DEVICE_REFERENCE, SPACE_REFERENCE

TABLES = {
    "spaces": (SPACE_REFERENCE, "space_id", ("building_id", "space_type"), lake.space_registry),
    "devices": (DEVICE_REFERENCE, "device_id", ("space_id", "device_type"), lake.device_registry),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="smartspaces run reference", description=__doc__)
    parser.add_argument("--env", help="configuration environment (default: $SMARTSPACES_ENV or local)")
    parser.add_argument("--drop", help="folder of the drop (default: <lake>/landing/reference)")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings(args.env)
    drop = args.drop or lake.reference_landing(settings.lake)
    with spark_session(settings, "smartspaces-reference") as spark:
        for name, (schema, key, required, target) in TABLES.items():
            rows = read_reference_drop(spark, lake_path_of(drop, name, args.format), schema, args.format)
            checked = rows.transform(with_reference_verdict(key, required)).cache()
            loaded = checked.where(F.col("reason").isNull()).drop("reason")
            write_delta(loaded, target(settings.lake), mode="overwrite")
            # The read API's registry (unknown ids are 404): the Cassandra table of the same name.
            write_cassandra(loaded, settings.cassandra.keyspace, name)
            rejected = checked.where(F.col("reason").isNotNull())
            print(f"{name}: {checked.count() - rejected.count()} loaded, {rejected.count()} rejected")
            for row in rejected.limit(20).collect():  # at most 20 shown
                print(f"  rejected {row[key]!r}: {row.reason}")
    return 0


def lake_path_of(drop: str, name: str, file_format: str) -> str:
    return f"{drop.rstrip('/')}/{name}.{file_format}"


if __name__ == "__main__":
    sys.exit(main())
