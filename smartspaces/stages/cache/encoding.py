"""How cache entries are encoded: canonical JSON and UTC event times, so rewriting an entry changes nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import cast

import orjson

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
# iso_utc's spelling as a Spark date_format pattern (with the session time zone set to UTC).
SPARK_ISO_UTC = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSxxx"

# The value types that orjson spells exactly as json.dumps does, with two exceptions checked for: floats below
# 1e-4 in magnitude (json switches to exponent notation there: 1e-05 against orjson's 1e-5) or not finite
# (json refuses them; orjson writes null), and ints beyond 64 bits (orjson refuses them).
_ORJSON_AS_JSON = frozenset({str, int, float, bool, type(None)})
_SMALLEST_PLAIN_FLOAT = 1e-4
_INFINITY = float("inf")


def canonical_json(entry: Mapping[str, object]) -> str:
    """Sorted keys, no spaces: the same entry always gives the same bytes (a rewrite is a no-op).

    Values must already be JSON types (ids as strings, times as ISO strings); anything else is a TypeError
    rather than a silent str() that the other writer would spell differently, and NaN is a ValueError.
    The spelling is json.dumps's (sort_keys, compact separators, UTF-8 kept): orjson writes the flat entries
    of plain values that the cache holds, several times faster, and json writes anything else.
    """
    # One pass over the values, type by type: the loaders call this for every reading (profiled: the checks
    # took three times as long as orjson's encoding when they were two passes with a set of the types).
    for value in entry.values():
        kind = type(value)
        if kind is float:
            if not (value == 0.0 or _SMALLEST_PLAIN_FLOAT <= abs(cast(float, value)) < _INFINITY):
                return _json(entry)  # spelt with an exponent by json, or not finite
        elif kind not in _ORJSON_AS_JSON:
            return _json(entry)
    try:
        return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return _json(entry)  # an int beyond 64 bits (or a key that is not a string): json spells it or refuses it


def _json(entry: Mapping[str, object]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def iso_utc(moment: datetime) -> str:
    """A time as the cache spells it: 2026-11-25T10:00:00.123000+00:00 (naive times are taken as UTC).

    Always six fractional digits, so every writer spells the same instant the same way (in Spark:
    date_format(col, SPARK_ISO_UTC)).
    """
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def epoch_ms(event_time: str) -> int:
    """Milliseconds since the epoch of an ISO 8601 time with an offset (exact: no float rounding)."""
    moment = datetime.fromisoformat(event_time)
    if moment.tzinfo is None:
        raise ValueError(f"event_time {event_time!r} has no UTC offset")
    return (moment - _EPOCH) // _MILLISECOND
