"""Where each table lives in the data lake (Delta tables below the lake root)."""

from __future__ import annotations

from smartspaces.config import LakeSettings
from smartspaces.connectors.delta import lake_path


def bronze_events(lake: LakeSettings) -> str:
    """Every raw Kafka message as received, partitioned by ingest date: the replayable archive."""
    return lake_path(lake, "bronze", "events")


def quarantined_events(lake: LakeSettings) -> str:
    """Messages that failed validation, with their reason, detail and Kafka coordinates."""
    return lake_path(lake, "quarantine", "events")


def quarantine_staging(lake: LakeSettings) -> str:
    """The ingest's quarantined messages of each micro-batch, staged until they are moved into the quarantine."""
    return lake_path(lake, "_staging", "quarantine")


def device_registry(lake: LakeSettings) -> str:
    """The devices the platform knows: every version of every device (SCD type 2), merged from reference drops."""
    return lake_path(lake, "reference", "devices")


def space_registry(lake: LakeSettings) -> str:
    """The spaces the platform knows: every version of every space (SCD type 2), merged from reference drops."""
    return lake_path(lake, "reference", "spaces")


def reference_rejects(lake: LakeSettings) -> str:
    """Rows of reference drops that were not merged, with their reason and the drop's effective time."""
    return lake_path(lake, "quarantine", "reference")


def reference_landing(lake: LakeSettings) -> str:
    """Where reference drops (CSV or parquet files) arrive before they are loaded."""
    return lake_path(lake, "landing", "reference")


def checkpoints(lake: LakeSettings) -> str:
    """The folder of every streaming query's checkpoint."""
    return lake_path(lake, "_checkpoints")


def checkpoint(lake: LakeSettings, stream: str) -> str:
    """A streaming query's checkpoint: its Kafka offsets and batch log, so a restart resumes."""
    return lake_path(lake, "_checkpoints", stream)


def unattributed_events(lake: LakeSettings) -> str:
    """Stored events the enrichment could place in no space (retired or unregistered device), with the reason."""
    return lake_path(lake, "quarantine", "unattributed_events")
