"""The driver's JVM behind a Spark session, for the few Java calls pyspark has no Python API for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import SparkSession


def session_jvm(spark: SparkSession) -> Any:
    jvm = spark.sparkContext._jvm
    if jvm is None:
        raise RuntimeError("the Spark session has no JVM gateway (stopped?)")
    return jvm


def java_strings(spark: SparkSession, values: Sequence[str]) -> Any:
    """The values as a Java String[] in the session's JVM."""
    gateway = spark.sparkContext._gateway
    if gateway is None:
        raise RuntimeError("the Spark session has no JVM gateway (stopped?)")
    strings = gateway.new_array(session_jvm(spark).java.lang.String, len(values))
    for index, value in enumerate(values):
        strings[index] = value
    return strings
