"""Why an event is quarantined: one code per kind of bad input, checked in this order."""

from __future__ import annotations

from enum import StrEnum


class QuarantineReason(StrEnum):
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    BAD_EVENT_ID = "bad_event_id"
    KEY_MISMATCH = "key_mismatch"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    UNKNOWN_METRIC = "unknown_metric"
    WRONG_UNIT = "wrong_unit"
    UNKNOWN_SEVERITY = "unknown_severity"
    UNKNOWN_CODE = "unknown_code"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    BAD_EVENT_TIME = "bad_event_time"
    EVENT_TIME_IN_FUTURE = "event_time_in_future"
    EVENT_TIME_TOO_OLD = "event_time_too_old"
    UNKNOWN_DEVICE = "unknown_device"
    # An event id first received with other content (transformations.conflicting_duplicates).
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
