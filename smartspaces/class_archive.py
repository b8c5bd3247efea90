"""A class-data archive of the Spark driver's JVM (Java's dynamic AppCDS), built once per JDK and classpath.

Every local session starts a JVM that loads, parses and verifies the classes of Spark, Delta and the connectors
before its first query. The archive keeps them as a first run left them, mapped at start. Measured on the
2-core machine, a process that starts a session, runs two small queries and a Delta write, and stops (medians
of 5, alternated): 16.2 -> 11.5 s wall, 28.3 -> 20.4 s CPU. `make install` builds it
(`python -m smartspaces.class_archive`), beside the connectors' record; a session starts with it when there is
one for its JDK and pins, and without it otherwise (quietly: a JVM that cannot map it, a JDK updated in place
say, is only slower). The executors of a cluster on this machine map it too (session.jvm_launch_conf).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from smartspaces.config import Settings, SparkSettings, load_settings
from smartspaces.connector_jars import end_gateway_jvm, exclusive, ivy_home
from smartspaces.logs import configure_logging
from smartspaces.pins import load_pins

log = logging.getLogger("smartspaces.class_archive")
# Below the Ivy home, beside the connectors' records.
ARCHIVES_DIR = "class-archives"
# The JVM's own messages about the archive (classes it skips when dumping, an archive it cannot map) stay out
# of the run's output.
QUIET_CDS = "-Xlog:cds*=off"


def java_home() -> Path | None:
    """The JDK that spark-submit starts: JAVA_HOME's, else the one of `java` on the PATH."""
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    return Path(java).resolve().parent.parent if java else None


def jdk_identity() -> str:
    """The JDK's folder and its release file (its exact version): an archive maps only into the JDK that wrote it."""
    home = java_home()
    if home is None:
        return ""
    release = home / "release"
    return f"{home}\n{release.read_text(encoding='utf-8', errors='replace') if release.is_file() else ''}"


def archive_path(spark: SparkSettings) -> Path:
    """Where the archive of this JDK, this Spark and these connectors is kept. A session without the connectors
    (the unit tests') maps it too: it has the same classpath, and loads fewer classes."""
    pins = load_pins()
    key = "\n".join([jdk_identity(), pins.spark_version, *pins.spark_packages])
    return ivy_home(spark) / ARCHIVES_DIR / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsa"


def existing_archive(spark: SparkSettings) -> Path | None:
    archive = archive_path(spark)
    return archive if archive.is_file() else None


def archive_java_options(archive: Path) -> str:
    """The driver JVM's options that map the archive."""
    return f"-XX:SharedArchiveFile={archive} {QUIET_CDS}"


def build_archive(settings: Settings) -> Path:
    """The archive of the settings' local session, built first if there is none (one build at a time)."""
    archive = archive_path(settings.spark)
    if archive.is_file():
        return archive
    with exclusive(archive.parent / ".lock"):
        if not archive.is_file():
            partial = archive.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            report = archive.with_suffix(".log")
            log.info("building the Spark driver's class-data archive once (report: %s)", report)
            with report.open("w", encoding="utf-8") as output:
                trained = subprocess.run(
                    [sys.executable, "-m", "smartspaces.class_archive", "--train", str(partial)],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            if trained.returncode != 0 or not partial.is_file():
                raise RuntimeError(f"the class-data archive was not written (report: {report})")
            partial.replace(archive)
    return archive


def train(settings: Settings, partial: Path) -> None:
    """Runs what every job's start runs (a session with the connectors, a query with a shuffle, JSON, a Delta
    write and read), in a JVM that writes the classes it loaded to partial when it exits."""
    from pyspark import SparkContext
    from pyspark.sql import functions as F

    from smartspaces.session import build_spark_session

    dump = {"spark.driver.extraJavaOptions": f"-XX:ArchiveClassesAtExit={partial} {QUIET_CDS}"}
    spark = build_spark_session(settings, "smartspaces-class-archive", dump)
    rows = spark.range(10_000).select((F.col("id") % 7).alias("k"), F.to_json(F.struct("id")).alias("body"))
    events = rows.select("k", F.from_json("body", "id long").alias("event"))
    parsed = events.groupBy("k").agg(F.max("event.id").alias("newest"))
    parsed.collect()
    with tempfile.TemporaryDirectory() as folder:
        parsed.write.format("delta").save(folder)
        spark.read.format("delta").load(folder).count()
    spark.stop()
    # The JVM writes the archive as it exits: wait for it.
    if SparkContext._gateway is not None:
        end_gateway_jvm(SparkContext._gateway, timeout_s=300)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smartspaces.class_archive",
        description="Builds the Spark driver's class-data archive for this JDK and these jars, if there is none; "
        "prints its path.",
    )
    parser.add_argument("--env", help="configuration environment: conf/<env>.yaml (default: $SMARTSPACES_ENV or local)")
    parser.add_argument("--train", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    configure_logging()
    settings = load_settings(args.env)
    if args.train:
        train(settings, args.train)
        return 0
    if not settings.spark.resolve_packages:
        log.info("no archive: spark.resolve_packages is false (spark-submit starts the JVM)")
        return 0
    print(build_archive(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
