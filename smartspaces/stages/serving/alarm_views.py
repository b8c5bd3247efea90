"""An alarm as the API answers it, the same whether it was read from Redis or Cassandra."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from smartspaces.cassandra_tables import ALARM_ACKNOWLEDGEMENT_COLUMNS, ALARM_LIFECYCLE_COLUMNS
from smartspaces.stages.cache.encoding import iso_utc
from transformations.alarms.lifecycle import AlarmState

ALARM_FIELDS = ("alarm_id", *ALARM_LIFECYCLE_COLUMNS, *ALARM_ACKNOWLEDGEMENT_COLUMNS)
_TIME_FIELDS = frozenset({"raised_at", "escalated_at", "cleared_at", "acknowledged_at"})


def alarm_state(alarm: Mapping[str, Any]) -> AlarmState:
    """Cleared once cleared (acknowledged or not); acknowledged while open once an operator did; else active."""
    if alarm.get("cleared_at") is not None:
        return AlarmState.CLEARED
    return AlarmState.ACKNOWLEDGED if alarm.get("acknowledged_at") is not None else AlarmState.ACTIVE


def _time(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    return iso_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def alarm_view(alarm: Mapping[str, Any]) -> dict[str, Any]:
    """Every alarm field (times spelt as the cache spells them, ids as strings) and its state."""
    view = {name: alarm.get(name) for name in ALARM_FIELDS}
    view["alarm_id"] = str(view["alarm_id"])
    view.update({name: _time(view[name]) for name in _TIME_FIELDS})
    view["state"] = alarm_state(view).value
    return view
