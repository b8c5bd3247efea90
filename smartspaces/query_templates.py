"""Queries built once over placeholder inputs and run over each micro-batch's rows without being built again.

For a micro-batch of a few hundred rows, building a DataFrame costs more than running it: every API call
analyses the plan so far in the JVM (the change feed's rules took about two thousand calls from Python and
half a second a batch on an idle machine, three times that on a busy one). A template keeps the analysed
plans; `over` hands the JVM (smartspaces/jvm: smartspaces.spark.QueryTemplate) the batch's local DataFrames,
which it puts in place of the placeholders' rows. The optimiser and the planner still run for each batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from smartspaces.connectors.jvm import session_jvm


def _java_list(spark: SparkSession, frames: Sequence[DataFrame]) -> Any:
    java_list = session_jvm(spark).java.util.ArrayList()
    for frame in frames:
        java_list.add(frame._jdf)
    return java_list


class QueryTemplates:
    """The frames `build` returns over placeholders of `schemas`, each to be run again over other inputs.

    build takes one DataFrame per schema, in order, and returns the frames to keep (built from them and from
    anything else that stays the same between batches, such as reference data already in memory).
    """

    def __init__(
        self, spark: SparkSession, schemas: Sequence[StructType], build: Callable[..., Sequence[DataFrame]]
    ) -> None:
        self.spark = spark
        self.schemas = tuple(schemas)
        template = session_jvm(spark).smartspaces.spark.QueryTemplate
        session = spark._jsparkSession
        placeholders = [
            DataFrame(template.placeholder(session, session.parseDataType(schema.json())), spark)
            for schema in self.schemas
        ]
        self._templates = [template.of(frame._jdf, _java_list(spark, placeholders)) for frame in build(*placeholders)]

    def over(self, *inputs: DataFrame) -> list[DataFrame]:
        """The kept frames over these inputs (DataFrames of the schemas, in order), ready to run. A local one
        (from the driver's rows through Arrow) is taken as it is; another is collected first, a Spark job."""
        if len(inputs) != len(self.schemas):
            raise ValueError(f"{len(self.schemas)} inputs expected, got {len(inputs)}")
        java_inputs = _java_list(self.spark, inputs)
        return [DataFrame(template.over(java_inputs), self.spark) for template in self._templates]
