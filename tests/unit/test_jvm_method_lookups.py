"""PySpark's column functions find their JVM methods once per process, not once per call."""

from __future__ import annotations

from py4j.java_gateway import JavaClass  # type: ignore[import-untyped]
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from smartspaces.connectors.jvm import MethodKeepingClass, keep_method_lookups, session_jvm


def test_a_session_keeps_the_methods_of_functions_once_looked_up(spark: SparkSession) -> None:
    view = session_jvm(spark)
    functions = view.functions
    assert isinstance(functions, MethodKeepingClass)
    functions.__dict__.pop("upper", None)

    row = spark.range(1).select(F.upper(F.lit("a")).alias("up")).first()

    assert row is not None and row.up == "A"
    assert "upper" in functions.__dict__
    # Kept on the view: the same object every time, and installing again changes nothing.
    keep_method_lookups(spark, ["functions"])
    assert view.functions is functions


def test_only_methods_are_kept(spark: SparkSession) -> None:
    kept = MethodKeepingClass("java.util.AbstractMap", session_jvm(spark).functions._gateway_client)
    nested = kept.SimpleEntry  # a nested class, not a method
    assert isinstance(nested, JavaClass)
    assert "SimpleEntry" not in kept.__dict__
