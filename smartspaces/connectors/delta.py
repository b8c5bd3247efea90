"""Delta tables in the data lake, addressed by path below the lake root."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from smartspaces.config import LakeSettings
from smartspaces.connectors.jvm import session_jvm


def lake_path(lake: LakeSettings, *parts: str) -> str:
    """The path of a table below the lake root (a local folder or an abfss:// URL)."""
    return "/".join([lake.root.rstrip("/"), *parts])


def write_delta(rows: DataFrame, path: str, mode: str = "append", partition_by: tuple[str, ...] = ()) -> None:
    """Writes a Delta table. Each write is one atomic commit: a failed write leaves no partial data."""
    writer = rows.write.format("delta").mode(mode)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def read_delta(spark: SparkSession, path: str) -> DataFrame:
    return spark.read.format("delta").load(path)


def insert_new_rows(
    rows: DataFrame, path: str, keys: tuple[str, ...], partition_by: tuple[str, ...] = (), within: str | None = None
) -> None:
    """Inserts the rows whose keys the table does not hold yet (creating the table on first use).

    Idempotent: writing the same rows again changes nothing. within: see merge_by_keys.
    """
    merge_by_keys(rows, path, keys, update_matched=False, partition_by=partition_by, within=within)


def merge_by_keys(
    rows: DataFrame,
    path: str,
    keys: tuple[str, ...],
    update_matched: bool,
    partition_by: tuple[str, ...] = (),
    within: str | None = None,
) -> None:
    """One MERGE on `keys`: inserts the rows the table lacks and, with update_matched, rewrites those it has.

    Creates the table on first use. One atomic Delta commit. within: a condition on the table's columns
    (written `target.<column>`) that every row the source can match satisfies; Delta then reads only the
    files that may hold such rows (by partition and column statistics) instead of the whole table.
    """
    spark = rows.sparkSession
    if not DeltaTable.isDeltaTable(spark, path):
        write_delta(rows, path, mode="append", partition_by=partition_by)
        return
    condition = " AND ".join([f"target.{key} = source.{key}" for key in keys] + ([f"({within})"] if within else []))
    merge = DeltaTable.forPath(spark, path).alias("target").merge(rows.alias("source"), condition)
    if update_matched:
        merge = merge.whenMatchedUpdateAll()
    merge.whenNotMatchedInsertAll().execute()


def append_once(rows: DataFrame, path: str, writer_id: str, version: int, partition_by: tuple[str, ...] = ()) -> None:
    """Appends rows as version `version` of writer `writer_id`; Delta skips a version it already committed.

    Makes a replayed streaming micro-batch (same writer, same batch id) write nothing the second time.
    """
    writer = rows.write.format("delta").mode("append").option("txnAppId", writer_id).option("txnVersion", version)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def read_reference_drop(spark: SparkSession, path: str, schema: StructType, file_format: str) -> DataFrame:
    """A reference file (CSV with a header, or parquet) read with its declared schema."""
    if file_format == "csv":
        return spark.read.csv(path, header=True, schema=schema, mode="PERMISSIVE")
    return spark.read.schema(schema).parquet(path)


def read_delta_or_empty(spark: SparkSession, path: str, schema: StructType) -> DataFrame:
    """The table at `path`, or an empty DataFrame of `schema` when there is none yet (a first load)."""
    if DeltaTable.isDeltaTable(spark, path):
        return read_delta(spark, path)
    return spark.createDataFrame([], schema)


def merge_versions(versions: DataFrame, path: str, keys: tuple[str, ...]) -> None:
    """Merges versions of a history (SCD type 2) keyed by `keys` (the key and valid_from): a version the table
    holds is rewritten (closing it), a new one is inserted. The table is created on first use.

    One atomic Delta commit. Idempotent: the row of a (key, valid_from) is replaced by the same values when
    the same versions are merged again, and nothing is inserted twice.
    """
    merge_by_keys(versions, path, keys, update_matched=True)


def replace_where(rows: DataFrame, path: str, predicate: str, partition_by: tuple[str, ...] = ()) -> None:
    """Replaces the table's rows matching `predicate` (a SQL condition) with `rows`, in one atomic commit.

    Idempotent: writing the same rows for the same predicate again leaves the same table.
    """
    writer = rows.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def ensure_table_properties(spark: SparkSession, path: str, properties: Mapping[str, str]) -> None:
    """Gives an existing table the properties it lacks or holds other values of, in one commit; a table that
    already has them, or no table, is left as it is."""
    if table_version(spark, path) is None:
        return
    held = table_properties(spark, path)
    changed = {key: value for key, value in sorted(properties.items()) if held.get(key) != value}
    if changed:
        listed = ", ".join(f"'{key}' = '{value}'" for key, value in changed.items())
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({listed})")


def table_properties(spark: SparkSession, path: str) -> dict[str, str]:
    """A table's properties (its TBLPROPERTIES)."""
    detail = DeltaTable.forPath(spark, path).detail().first()
    return dict(detail["properties"]) if detail is not None else {}


def table_defaults_conf(properties: Mapping[str, str]) -> dict[str, str]:
    """The session settings that give each table the session creates these properties ('delta.x': 'v')."""
    defaults = "spark.databricks.delta.properties.defaults."
    return {defaults + key.removeprefix("delta."): value for key, value in properties.items()}


def table_version(spark: SparkSession, path: str) -> str | None:
    """A cheap token of a Delta table's state: its newest commit file, found by listing _delta_log through
    Hadoop's file system (local folders and abfss:// alike). None when there is no table. No Spark job runs,
    so a long-running stream can ask it every micro-batch and reload the table only when it changed."""
    return _newest_file(spark, f"{path.rstrip('/')}/_delta_log", suffix=".json")


def lake_file(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """Hadoop's file system of a lake path (a local folder or abfss://, as the session configures it) and the
    path as Hadoop's `Path`; no Spark job runs."""
    hadoop_path = session_jvm(spark).org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def file_version(spark: SparkSession, path: str) -> str | None:
    """A cheap token of a file's state (its modification time and length); None when it does not exist."""
    file_system, hadoop_path = lake_file(spark, path)
    if not file_system.exists(hadoop_path):
        return None
    status = file_system.getFileStatus(hadoop_path)
    return f"{status.getModificationTime()}:{status.getLen()}"


def holds_files(spark: SparkSession, folder: str) -> bool:
    """Whether the folder exists and holds at least one file or folder (Hadoop's file system: local or abfss://)."""
    return _newest_file(spark, folder, suffix="") is not None


def _newest_file(spark: SparkSession, folder: str, suffix: str) -> str | None:
    file_system, hadoop_path = lake_file(spark, folder)
    if not file_system.exists(hadoop_path):
        return None
    names = [status.getPath().getName() for status in file_system.listStatus(hadoop_path)]
    return max((name for name in names if name.endswith(suffix)), default=None)
