"""The driver's JVM behind a Spark session, for the few Java calls pyspark has no Python API for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from py4j.java_gateway import JavaClass, JavaMember  # type: ignore[import-untyped]
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


class MethodKeepingClass(JavaClass):  # type: ignore[misc]
    """A Java class whose static methods are looked up in the JVM once, then kept (a method stays what it is
    while the JVM runs). py4j looks a method up each time it is named: for `functions`, whose methods number in
    the thousands, that round trip takes longer than the call itself."""

    def __getattr__(self, name: str) -> Any:
        member = super().__getattr__(name)
        if isinstance(member, JavaMember):
            # Found as an attribute from now on: __getattr__ runs only for names the instance lacks.
            self.__dict__[name] = member
        return member


def keep_method_lookups(spark: SparkSession, short_names: Sequence[str]) -> None:
    """Makes the session's py4j view give these classes (short names it resolves) as MethodKeepingClass, kept
    on the view (idempotent; the view is the gateway's, shared by every session of the process)."""
    view = session_jvm(spark)
    for name in short_names:
        if not isinstance(view.__dict__.get(name), MethodKeepingClass):
            found = getattr(view, name)
            view.__dict__[name] = MethodKeepingClass(found._fqn, found._gateway_client)
