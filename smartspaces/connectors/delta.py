"""Delta tables in the data lake, addressed by path below the lake root."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

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
