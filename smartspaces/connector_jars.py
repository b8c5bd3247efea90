"""The pinned Spark connectors as local jars: resolved once by Spark's own Ivy, then recorded per pin set.

With spark.jars.packages every session start resolves the connectors again and prints Ivy's report. Here
the same resolution runs once -- SparkSubmit's, so its exclusions (Spark's and Scala's own artifacts) and
its conflict rules hold -- and the jars it chose are recorded in its order; sessions then start with
spark.jars, the same classpath with nothing resolved. A record is keyed by the Spark version and the
coordinates, so a pin change resolves again. `python -m smartspaces.connector_jars` prints the jars for
spark-submit --jars, the project's own jar (smartspaces.project_jar) last, and is how `make install` resolves
them ahead of the first run.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import logging
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from smartspaces.config import SparkSettings, load_settings
from smartspaces.logs import configure_logging
from smartspaces.pins import load_pins

log = logging.getLogger("smartspaces.connector_jars")

# Below the Ivy home, beside Ivy's own cache/ and jars/.
RECORDS_DIR = "classpaths"
# Spark's Ivy home when spark.jars.ivy is not set.
SPARK_DEFAULT_IVY_HOME = Path.home() / ".ivy2"
_REPORT_TAIL_LINES = 40


class ConnectorResolutionError(RuntimeError):
    """Spark's Ivy could not resolve the pinned connectors; the message ends with its report."""


def ivy_home(spark: SparkSettings) -> Path:
    return spark.ivy_cache_dir or SPARK_DEFAULT_IVY_HOME


def record_path(home: Path, spark_version: str, coordinates: Sequence[str]) -> Path:
    """Where the jars resolved for this Spark version and these coordinates are recorded."""
    key = hashlib.sha256("\n".join([spark_version, *coordinates]).encode()).hexdigest()[:16]
    return home / RECORDS_DIR / f"{key}.json"


def read_record(record: Path, spark_version: str, coordinates: Sequence[str]) -> list[Path] | None:
    """The recorded jars, or None when there is no record for these pins or one of its jars has gone."""
    try:
        content = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if content.get("spark_version") != spark_version or content.get("coordinates") != list(coordinates):
        return None
    jars = [Path(jar) for jar in content.get("jars", [])]
    return jars if jars and all(jar.is_file() for jar in jars) else None


def write_record(record: Path, spark_version: str, coordinates: Sequence[str], jars: Sequence[Path]) -> None:
    """Writes the record whole or not at all (a concurrent reader never sees half of it)."""
    content = {"spark_version": spark_version, "coordinates": list(coordinates), "jars": [str(j) for j in jars]}
    partial = record.with_suffix(".partial")
    partial.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    partial.replace(record)


def jars_of_spark_conf(value: str) -> list[Path]:
    """The jars of a spark.jars value (SparkSubmit writes file: URIs, a user may write paths), in order."""
    jars = []
    for entry in filter(None, (part.strip() for part in value.split(","))):
        uri = urlparse(entry)
        jars.append(Path(unquote(uri.path)) if uri.scheme == "file" else Path(entry))
    return jars


def connector_jars(spark: SparkSettings) -> list[Path]:
    """The pinned connectors' jars with their dependencies, in Spark's classpath order (resolved on first use)."""
    pins = load_pins()
    coordinates = pins.spark_packages
    home = ivy_home(spark)
    record = record_path(home, pins.spark_version, coordinates)
    jars = read_record(record, pins.spark_version, coordinates)
    if jars is not None:
        return jars
    # Concurrent first runs (the hot-path bench starts two jobs at once) resolve once: Ivy's cache is not
    # safe for two resolutions at a time.
    with exclusive(record.parent / ".lock"):
        jars = read_record(record, pins.spark_version, coordinates)
        if jars is None:
            jars = _resolve_with_spark(coordinates, home, record.with_suffix(".log"))
            write_record(record, pins.spark_version, coordinates, jars)
            log.info("%d connector jars recorded in %s", len(jars), record)
    return jars


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _resolve_with_spark(coordinates: Sequence[str], home: Path, report: Path) -> list[Path]:
    """Starts a JVM the way a session would, with spark.jars.packages, and reads the spark.jars SparkSubmit set.

    Ivy's report goes to the report file, never to the console."""
    from pyspark import SparkConf
    from pyspark.errors import PySparkRuntimeError
    from pyspark.java_gateway import launch_gateway

    log.info("resolving the Spark connectors once with Spark's Ivy (report: %s)", report)
    conf = SparkConf(loadDefaults=False)
    conf.set("spark.jars.packages", ",".join(coordinates))
    conf.set("spark.jars.ivy", str(home))
    with report.open("w", encoding="utf-8") as output:
        try:
            # pyspark's launch_gateway carries no annotations.
            gateway = launch_gateway(  # type: ignore[no-untyped-call]
                conf, popen_kwargs={"stdout": output, "stderr": subprocess.STDOUT}
            )
        except PySparkRuntimeError:
            raise ConnectorResolutionError(_failure(coordinates, report)) from None
    try:
        resolved = gateway.jvm.java.lang.System.getProperty("spark.jars") or ""
    finally:
        end_gateway_jvm(gateway, timeout_s=60)
    jars = jars_of_spark_conf(resolved)
    if not jars:
        raise ConnectorResolutionError(_failure(coordinates, report))
    return jars


def end_gateway_jvm(gateway: Any, timeout_s: float) -> None:
    """Shuts a py4j gateway down and waits until its JVM has exited, which it does when its stdin closes."""
    gateway.shutdown()
    gateway.proc.stdin.close()
    gateway.proc.wait(timeout=timeout_s)


def _failure(coordinates: Sequence[str], report: Path) -> str:
    tail = report.read_text(encoding="utf-8", errors="replace").splitlines()[-_REPORT_TAIL_LINES:]
    return f"Spark could not resolve {', '.join(coordinates)} (report: {report}):\n" + "\n".join(tail)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smartspaces.connector_jars",
        description="Prints the jars a job adds to Spark's, comma-separated (spark-submit --jars): the pinned "
        "connectors, resolved first if these pins were never resolved, and the project's JVM classes.",
    )
    parser.add_argument("--env", help="configuration environment: conf/<env>.yaml (default: $SMARTSPACES_ENV or local)")
    args = parser.parse_args(argv)
    configure_logging()
    spark = load_settings(args.env).spark
    if not spark.resolve_packages:
        log.info("nothing to resolve: spark.resolve_packages is false (the connectors are on the classpath)")
        return 0
    from smartspaces.project_jar import session_jars  # it builds on this module

    print(",".join(str(jar) for jar in session_jars(spark)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
