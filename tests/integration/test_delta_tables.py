"""A Delta table's properties are set where they differ, in one commit, and left alone where they are held."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from smartspaces.connectors.delta import ensure_table_properties, table_properties, table_version, write_delta

pytestmark = pytest.mark.integration

INTERVAL = {"delta.checkpointInterval": "100"}


def test_a_table_made_before_takes_the_properties_once_and_no_table_is_made(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "quarantine")
    ensure_table_properties(spark, path, INTERVAL)
    assert table_version(spark, path) is None
    write_delta(spark.range(3), path)
    created = table_version(spark, path)
    assert "delta.checkpointInterval" not in table_properties(spark, path)
    ensure_table_properties(spark, path, INTERVAL)
    changed = table_version(spark, path)
    assert table_properties(spark, path)["delta.checkpointInterval"] == "100"
    assert changed != created
    ensure_table_properties(spark, path, INTERVAL)
    assert table_version(spark, path) == changed
    assert spark.read.format("delta").load(path).count() == 3
