"""How cache entries are encoded: canonical JSON, one spelling of UTC times, exact epoch milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from smartspaces.stages.cache.critical_events import newest_first
from smartspaces.stages.cache.encoding import canonical_json, epoch_ms, iso_utc


def test_canonical_json_sorts_keys_and_drops_spaces() -> None:
    assert canonical_json({"value": 21.5, "metric": "co2", "code": None}) == '{"code":null,"metric":"co2","value":21.5}'


def test_canonical_json_refuses_values_another_writer_would_spell_differently() -> None:
    with pytest.raises(TypeError):
        canonical_json({"event_time": datetime(2026, 11, 25, tzinfo=UTC)})
    with pytest.raises(ValueError):
        canonical_json({"value": float("nan")})


def test_iso_utc_always_has_microseconds_and_the_utc_offset() -> None:
    assert [
        iso_utc(datetime(2026, 11, 25, 10, 0)),
        iso_utc(datetime(2026, 11, 25, 10, 0, 0, 123000, tzinfo=UTC)),
        iso_utc(datetime(2026, 11, 25, 11, 0, tzinfo=timezone(timedelta(hours=1)))),
    ] == ["2026-11-25T10:00:00.000000+00:00", "2026-11-25T10:00:00.123000+00:00", "2026-11-25T10:00:00.000000+00:00"]


def test_epoch_ms_is_exact_and_needs_an_offset() -> None:
    assert [epoch_ms("2026-11-25T10:00:00.123000+00:00"), epoch_ms("2026-11-25T11:00:00.123999+01:00")] == [
        1795600800123,
        1795600800123,
    ]
    with pytest.raises(ValueError, match="no UTC offset"):
        epoch_ms("2026-11-25T10:00:00")


def test_newest_first_breaks_ties_by_id() -> None:
    events = [
        {"critical_event_id": "b", "event_time": "2026-11-25T10:00:00.000000+00:00"},
        {"critical_event_id": "c", "event_time": "2026-11-25T09:00:00.000000+00:00"},
        {"critical_event_id": "a", "event_time": "2026-11-25T10:00:00.000000+00:00"},
    ]
    assert [event["critical_event_id"] for event in newest_first(events)] == ["a", "b", "c"]
