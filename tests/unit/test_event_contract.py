"""The event contract: docs/event.schema.json is rendered from it; it rejects what the validator quarantines."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from smartspaces.config import PROJECT_ROOT
from transformations.contract import METRICS, event_json_schema

SCHEMA_FILE = PROJECT_ROOT / "docs" / "event.schema.json"


def good_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": "6f1c2a4e-8b7d-4c3a-9e21-0a1b2c3d4e5f",
        "device_id": "dev-1",
        "event_type": "telemetry",
        "metric": "temperature",
        "value": 21.5,
        "unit": "celsius",
        "event_time": "2026-03-10T12:59:00+01:00",
    }
    event.update(changes)
    return event


def test_the_published_schema_is_the_contract() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == event_json_schema(), (
        "docs/event.schema.json is stale: run `smartspaces contract > docs/event.schema.json`"
    )


def test_the_schema_accepts_a_good_event_of_every_metric() -> None:
    validator = jsonschema.Draft202012Validator(event_json_schema())
    for metric in METRICS.values():
        assert list(validator.iter_errors(good_event(metric=metric.name, unit=metric.unit, value=metric.minimum))) == []


@pytest.mark.parametrize(
    "bad",
    [
        good_event(unit="percent"),
        good_event(value=86.0),
        good_event(event_type="gossip"),
        good_event(schema_version=2),
        good_event(event_id="not-a-uuid"),
        {key: value for key, value in good_event().items() if key != "device_id"},
        good_event(event_type="alarm", metric=None),
    ],
)
def test_the_schema_rejects_what_the_validator_quarantines(bad: dict[str, Any]) -> None:
    assert list(jsonschema.Draft202012Validator(event_json_schema()).iter_errors(bad)) != []
