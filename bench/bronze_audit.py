"""Reads a lake's bronze archive whole, through Delta's log, and prints its rows and distinct Kafka coordinates.

Run as its own process on the settings of the environment (SMARTSPACES__LAKE__ROOT names the lake), so the
bench's process holds no JVM: `python -m bench.bronze_audit` prints {"rows": N, "coordinates": M}.
"""

from __future__ import annotations

import json
import sys

from pyspark.sql import functions as F

from smartspaces import lake
from smartspaces.config import load_settings
from smartspaces.connectors.delta import read_delta
from smartspaces.session import spark_session
from smartspaces.stages.ingest.pipeline import BRONZE_KEYS


def main() -> int:
    settings = load_settings("local")
    with spark_session(settings, "bronze-audit") as spark:
        bronze = read_delta(spark, lake.bronze_events(settings.lake))
        counted = bronze.agg(F.count(F.lit(1)).alias("rows"), F.countDistinct(*BRONZE_KEYS).alias("coordinates"))
        row = counted.first()
    print(json.dumps({"rows": int(row["rows"]), "coordinates": int(row["coordinates"])} if row else {}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
