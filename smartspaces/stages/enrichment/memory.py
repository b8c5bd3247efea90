"""How the enrichment's JVMs hold memory: a batch job, sized for its work rather than for the streams."""

from __future__ import annotations

from smartspaces.config import EnrichmentSettings
from smartspaces.session import batch_jvm_conf


def enrichment_spark_conf(enrichment: EnrichmentSettings) -> dict[str, str]:
    """The enrichment session's memory settings: the batch collector (its JVM options add to the platform's
    own), where the session starts the driver's JVM its heap, fixed at its size, and Arrow for the rows the
    quality gate takes to the driver (columnar batches rather than a Python object per value)."""
    heap = enrichment.driver_memory
    return {
        **batch_jvm_conf(heap),
        **({"spark.driver.memory": heap} if heap else {}),
        # The quality gate takes each checked table to the driver (enrichment.quality.driver_rows at most).
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
