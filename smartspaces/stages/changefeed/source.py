"""What every change-feed backend provides: the changes after a checkpoint, and the positions to commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pyspark.sql import DataFrame


@dataclass(frozen=True)
class ChangeSet:
    """Changes read after the stored positions, not yet processed.

    positions maps each source (an ingest writer, or a Cosmos DB table) to the position to store once
    the changes are processed; a source absent from it has not moved. oldest_change_time is when the
    oldest change still unprocessed before this read was stored (None: nothing was waiting), for the lag.
    """

    changes: DataFrame
    positions: dict[str, str]
    oldest_change_time: datetime | None
    pending_after: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.positions


class ChangeFeedSource(Protocol):
    def read(self, positions: Mapping[str, str]) -> ChangeSet:
        """The changes after positions (source -> position), at most one trigger's worth, as CHANGE_EVENT rows."""
        ...

    def close(self) -> None:
        """Releases the source's connections."""
        ...
