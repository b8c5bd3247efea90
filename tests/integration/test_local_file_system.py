"""The sessions' local file system (the project's smartspaces.hadoop classes) gives files, directories, renames
and links what Hadoop's own local file system gives them. Integration: the classes come with the project's jar,
which only the integration tests' session loads."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from smartspaces.session import LOCAL_FILE_SYSTEM_CONF

pytestmark = pytest.mark.integration


def hadoop_conf(spark: SparkSession) -> Any:
    return spark.sparkContext._jsc.hadoopConfiguration()


def jvm(spark: SparkSession) -> Any:
    return spark.sparkContext._jvm


def hadoop_path(spark: SparkSession, path: Path) -> Any:
    return jvm(spark).org.apache.hadoop.fs.Path(path.as_uri())


def hadoop_own_file_system(spark: SparkSession) -> Any:
    """Hadoop's RawLocalFileSystem, outside the cache: what the project's classes must agree with."""
    own = jvm(spark).org.apache.hadoop.fs.RawLocalFileSystem()
    own.initialize(jvm(spark).java.net.URI.create("file:///"), hadoop_conf(spark))
    return own


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_sessions_file_scheme_is_the_projects_for_both_of_hadoops_apis(spark: SparkSession) -> None:
    hadoop = jvm(spark).org.apache.hadoop.fs
    uri = jvm(spark).java.net.URI.create("file:///")
    raw = hadoop.FileSystem.get(uri, hadoop_conf(spark)).getRawFileSystem()
    context = hadoop.FileContext.getFileContext(uri, hadoop_conf(spark)).getDefaultFileSystem()
    assert {
        "fs.file.impl": hadoop_conf(spark).get("fs.file.impl"),
        "fs.AbstractFileSystem.file.impl": context.getClass().getName(),
    } == {key.removeprefix("spark.hadoop."): value for key, value in LOCAL_FILE_SYSTEM_CONF.items()}
    assert raw.getClass().getName() == "smartspaces.hadoop.NioRawLocalFileSystem"


def test_created_files_and_directories_get_hadoops_permissions(spark: SparkSession, tmp_path: Path) -> None:
    hadoop = jvm(spark).org.apache.hadoop.fs
    ours = hadoop.FileSystem.get(jvm(spark).java.net.URI.create("file:///"), hadoop_conf(spark))
    own = hadoop_own_file_system(spark)
    restricted = hadoop.permission.FsPermission.createImmutable(0o750)
    for name, file_system in (("ours", ours), ("own", own)):
        file_system.create(hadoop_path(spark, tmp_path / f"{name}.txt")).close()
        file_system.mkdirs(hadoop_path(spark, tmp_path / f"{name}-dir"), restricted)
    assert mode(tmp_path / "ours.txt") == mode(tmp_path / "own.txt")
    assert mode(tmp_path / "ours-dir") == mode(tmp_path / "own-dir") == 0o750


def test_an_atomic_rename_replaces_the_target_and_its_checksum(spark: SparkSession, tmp_path: Path) -> None:
    """As a streaming checkpoint or a Delta commit writes a file: a temporary file renamed over the target."""
    hadoop = jvm(spark).org.apache.hadoop.fs
    context = hadoop.FileContext.getFileContext(jvm(spark).java.net.URI.create("file:///"), hadoop_conf(spark))
    flags = jvm(spark).java.util.EnumSet.of(hadoop.CreateFlag.CREATE, hadoop.CreateFlag.OVERWRITE)
    no_options = java_array(spark, hadoop.Options.CreateOpts)
    for name, text in (("target", b"old"), ("temporary", b"new")):
        stream = context.create(hadoop_path(spark, tmp_path / name), flags, no_options)
        stream.write(bytearray(text))
        stream.close()
    overwrite = java_array(spark, hadoop.Options.Rename, hadoop.Options.Rename.OVERWRITE)
    context.rename(hadoop_path(spark, tmp_path / "temporary"), hadoop_path(spark, tmp_path / "target"), overwrite)
    assert sorted(path.name for path in tmp_path.iterdir()) == [".target.crc", "target"]
    assert (tmp_path / "target").read_bytes() == b"new"


def test_a_link_is_reported_as_a_link_and_a_file_as_a_file(spark: SparkSession, tmp_path: Path) -> None:
    hadoop = jvm(spark).org.apache.hadoop.fs
    context = hadoop.FileContext.getFileContext(jvm(spark).java.net.URI.create("file:///"), hadoop_conf(spark))
    (tmp_path / "file.txt").write_text("reading")
    (tmp_path / "link.txt").symlink_to(tmp_path / "file.txt")
    file_status = context.getFileLinkStatus(hadoop_path(spark, tmp_path / "file.txt"))
    link_status = context.getFileLinkStatus(hadoop_path(spark, tmp_path / "link.txt"))
    assert (file_status.isSymlink(), file_status.getLen()) == (False, len("reading"))
    assert link_status.isSymlink()
    assert Path(link_status.getSymlink().toUri().getPath()) == tmp_path / "file.txt"


def java_array(spark: SparkSession, java_class: Any, *items: Any) -> Any:
    """A Java array for a varargs parameter (py4j passes no varargs)."""
    array = spark.sparkContext._gateway.new_array(java_class, len(items))  # type: ignore[union-attr]
    for index, item in enumerate(items):
        array[index] = item
    return array
