"""The Spark driver's class-data archive: one per JDK and pin set, and mapped by the sessions this suite starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from smartspaces.class_archive import archive_path
from smartspaces.config import Settings, SparkSettings
from smartspaces.session import jvm_launch_conf


def jdk(folder: Path, version: str) -> Path:
    folder.mkdir()
    (folder / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return folder


def test_an_archive_belongs_to_one_jdk_and_lives_beside_the_connectors_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spark = SparkSettings(master="local[2]", ivy_cache_dir=tmp_path / "ivy")
    monkeypatch.setenv("JAVA_HOME", str(jdk(tmp_path / "jdk-a", "17.0.15")))
    first = archive_path(spark)
    assert first.parent == tmp_path / "ivy" / "class-archives" and first.suffix == ".jsa"
    assert archive_path(spark) == first
    # The same folder updated in place to another release, or another JDK: another archive.
    (tmp_path / "jdk-a" / "release").write_text('JAVA_VERSION="17.0.16"\n')
    updated = archive_path(spark)
    assert updated != first
    monkeypatch.setenv("JAVA_HOME", str(jdk(tmp_path / "jdk-b", "17.0.15")))
    assert archive_path(spark) not in (first, updated)


def test_the_driver_maps_the_archive_and_the_executors_too_when_they_run_on_this_machine() -> None:
    mapping = " -XX:SharedArchiveFile=/ivy/class-archives/k.jsa -Xlog:cds*=off"
    remote = jvm_launch_conf([], Path("/ivy/class-archives/k.jsa"))
    assert remote["spark.driver.extraJavaOptions"].endswith(mapping)
    assert "SharedArchiveFile" not in remote["spark.executor.extraJavaOptions"]
    here = jvm_launch_conf([], Path("/ivy/class-archives/k.jsa"), executors_here=True)
    assert here["spark.driver.extraJavaOptions"].endswith(mapping)
    assert here["spark.executor.extraJavaOptions"].endswith(mapping)
    assert "SharedArchiveFile" not in jvm_launch_conf([])["spark.driver.extraJavaOptions"]


def test_the_suites_own_spark_jvm_maps_the_archive_make_install_built(spark: SparkSession, settings: Settings) -> None:
    archive = archive_path(settings.spark)
    assert archive.is_file(), f"no class-data archive at {archive}: `make install` builds it"
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()  # type: ignore[union-attr]
    mapped = {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if "/" in line}
    assert str(archive) in mapped
