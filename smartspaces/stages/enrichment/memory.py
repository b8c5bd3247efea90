"""How the enrichment's JVMs hold memory: a batch job, sized for its work rather than for the streams."""

from __future__ import annotations

from smartspaces.config import EnrichmentSettings
from smartspaces.session import BATCH_JVM_CONF


def enrichment_spark_conf(enrichment: EnrichmentSettings) -> dict[str, str]:
    """The enrichment session's memory settings: the batch collector (its JVM options add to the platform's
    own) and the driver's heap."""
    memory = {"spark.driver.memory": enrichment.driver_memory} if enrichment.driver_memory else {}
    return {**BATCH_JVM_CONF, **memory}
