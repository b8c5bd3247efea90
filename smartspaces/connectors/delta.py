"""Delta tables in the data lake, addressed by path below the lake root."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from smartspaces.config import LakeSettings


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


def insert_new_rows(rows: DataFrame, path: str, keys: tuple[str, ...], partition_by: tuple[str, ...] = ()) -> None:
    """Inserts the rows whose keys the table does not hold yet (creating the table on first use).

    Idempotent: writing the same rows again changes nothing.
    """
    spark = rows.sparkSession
    if not DeltaTable.isDeltaTable(spark, path):
        write_delta(rows, path, mode="append", partition_by=partition_by)
        return
    condition = " AND ".join(f"target.{key} = source.{key}" for key in keys)
    (
        DeltaTable.forPath(spark, path)
        .alias("target")
        .merge(rows.alias("source"), condition)
        .whenNotMatchedInsertAll()
        .execute()
    )


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
