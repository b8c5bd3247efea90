"""The driver's JVM behind a Spark session, for the few Java calls pyspark has no Python API for."""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession


def session_jvm(spark: SparkSession) -> Any:
    jvm = spark.sparkContext._jvm
    if jvm is None:
        raise RuntimeError("the Spark session has no JVM gateway (stopped?)")
    return jvm
