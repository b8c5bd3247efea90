"""Bad input, one generator per quarantine reason: each payload fails the validator's checks first at that reason.

Each generator starts from a good event of a registered device and breaks exactly one thing, keeping
everything the validator checks earlier intact (size, JSON, required fields, types, version, id, key, ...).
The Kafka key is always the event's device id, so no message fails at key_mismatch by accident.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from smartspaces.config import IngestSettings
from smartspaces.stages.simulator.events import EventFactory, encode
from transformations.contract import METRICS, REQUIRED_BY_EVENT_TYPE, REQUIRED_FIELDS, EventType
from transformations.quarantine import QuarantineReason as Reason

HOUR_S = 3600.0
DAY_S = 86_400.0
# Clocks of devices that lost their time: the epoch, and a real-time clock's factory default.
RESET_CLOCKS = ("1970-01-01T00:00:00.000+00:00", "2000-01-01T00:00:00.000+00:00")
UNKNOWN_METRICS = (("pm2_5", "ug/m3", 12.0), ("noise", "dBA", 48.0), ("radon", "Bq/m3", 35.0), ("voc", "ppb", 220.0))
UNKNOWN_EVENT_TYPES = ("Telemetry", "reading", "heartbeat", "measurement")
# A sensor's error value, below every metric's minimum.
SENSOR_ERROR_VALUE = -999.0

KafkaMessage = tuple[bytes, bytes]


@dataclass(frozen=True)
class BadInputContext:
    """What a generator needs: good events to break, the simulated clock, the real 'now' and the limits."""

    factory: EventFactory
    # Seconds since the epoch: the simulated time of this message, and the time the run is anchored to.
    clock: float
    now: float
    limits: IngestSettings
    # How long the run may take: an event meant to be in the future stays ahead of its arrival that long.
    run_allowance_s: float


def _message(device_id: str, payload: bytes | str) -> KafkaMessage:
    return device_id.encode(), payload.encode() if isinstance(payload, str) else payload


def _datetime(ctx: BadInputContext, t: float) -> datetime:
    return datetime.fromtimestamp(t, ctx.factory.zone)


def not_json(ctx: BadInputContext) -> KafkaMessage:
    """A truncated event, a CSV line or an XML element."""
    rng, event = ctx.factory.rng, ctx.factory.random_event(ctx.clock)
    variant = rng.randrange(3)
    if variant == 0:
        body = encode(event)
        return _message(event["device_id"], body[: rng.randint(1, len(body) - 1)])
    if variant == 1:
        return _message(event["device_id"], f"{event['device_id']};{event['event_type']};{event['event_time']}")
    return _message(event["device_id"], f'<event device="{event["device_id"]}" time="{event["event_time"]}"/>')


def not_an_object(ctx: BadInputContext) -> KafkaMessage:
    """Valid JSON that is not an object: a batch (array) of events, a bare number, a string or a boolean."""
    rng, event = ctx.factory.rng, ctx.factory.random_telemetry(ctx.clock)
    documents = ([event], event["value"], event["device_id"], True)
    return _message(event["device_id"], json.dumps(documents[rng.randrange(len(documents))], separators=(",", ":")))


def missing_field(ctx: BadInputContext) -> KafkaMessage:
    """A required field (common, or of the event's type) left out or null."""
    rng, event = ctx.factory.rng, ctx.factory.random_event(ctx.clock)
    required = REQUIRED_FIELDS + REQUIRED_BY_EVENT_TYPE[EventType(event["event_type"])]
    field, device_id = rng.choice(required), event["device_id"]
    if rng.random() < 0.5:
        del event[field]
    else:
        event[field] = None
    return _message(device_id, encode(event))


def wrong_type(ctx: BadInputContext) -> KafkaMessage:
    """A field of the wrong JSON type: the value quoted, the schema version quoted, attributes as a string."""
    rng, event = ctx.factory.rng, ctx.factory.random_telemetry(ctx.clock)
    variant = rng.randrange(3)
    if variant == 0:
        event["value"] = str(event["value"])  # a finite number's text, never "NaN" (Spark reads that as NaN)
    elif variant == 1:
        event["schema_version"] = str(event["schema_version"])
    else:
        event["attributes"] = ";".join(f"{key}={value}" for key, value in event["attributes"].items())
    return _message(event["device_id"], encode(event))


def unknown_event_type(ctx: BadInputContext) -> KafkaMessage:
    event = ctx.factory.random_telemetry(ctx.clock)
    event["event_type"] = ctx.factory.rng.choice(UNKNOWN_EVENT_TYPES)
    return _message(event["device_id"], encode(event))


def unknown_metric(ctx: BadInputContext) -> KafkaMessage:
    """Telemetry of a metric the contract does not have, with its own unit and a plausible value."""
    rng, event = ctx.factory.rng, ctx.factory.random_telemetry(ctx.clock)
    metric, unit, typical = rng.choice(UNKNOWN_METRICS)
    event.update(metric=metric, unit=unit, value=round(typical * rng.uniform(0.5, 1.5), 1))
    return _message(event["device_id"], encode(event))


def not_finite(ctx: BadInputContext) -> KafkaMessage:
    event = ctx.factory.random_telemetry(ctx.clock)
    event["value"] = ctx.factory.rng.choice((math.nan, math.inf, -math.inf))
    return _message(event["device_id"], encode(event))


def out_of_range(ctx: BadInputContext) -> KafkaMessage:
    """A sensor's error value (-999) or a reading above its metric's maximum."""
    rng, event = ctx.factory.rng, ctx.factory.random_telemetry(ctx.clock)
    maximum = METRICS[event["metric"]].maximum
    event["value"] = SENSOR_ERROR_VALUE if rng.random() < 0.5 else round(maximum * rng.uniform(1.01, 2.0) + 1.0, 1)
    return _message(event["device_id"], encode(event))


def bad_event_time(ctx: BadInputContext) -> KafkaMessage:
    """An event time without an offset, with a space for 'T', a +hhmm offset, epoch milliseconds or dd/MM/yyyy."""
    rng, event = ctx.factory.rng, ctx.factory.random_event(ctx.clock)
    moment = _datetime(ctx, ctx.clock)
    variants: tuple[str | int, ...] = (
        moment.replace(tzinfo=None).isoformat(timespec="milliseconds"),
        moment.isoformat(sep=" ", timespec="seconds"),
        moment.strftime("%Y-%m-%dT%H:%M:%S%z"),
        int(ctx.clock * 1000),
        moment.strftime("%d/%m/%Y %H:%M"),
    )
    event["event_time"] = variants[rng.randrange(len(variants))]
    return _message(event["device_id"], encode(event))


def event_time_in_future(ctx: BadInputContext) -> KafkaMessage:
    """A device clock 2-6 hours ahead of the run (beyond the allowed skew, whenever the message arrives)."""
    rng, event = ctx.factory.rng, ctx.factory.random_event(ctx.clock)
    ahead = ctx.limits.max_future_skew_s + ctx.run_allowance_s + rng.uniform(2 * HOUR_S, 6 * HOUR_S)
    event["event_time"] = ctx.factory.event_time(ctx.now + ahead)
    return _message(event["device_id"], encode(event))


def event_time_too_old(ctx: BadInputContext) -> KafkaMessage:
    """An event older than the lateness limit: a backlog weeks old, or a clock reset to 1970 or 2000."""
    rng, event = ctx.factory.rng, ctx.factory.random_event(ctx.clock)
    if rng.random() < 0.3:
        event["event_time"] = rng.choice(RESET_CLOCKS)
    else:
        event["event_time"] = ctx.factory.event_time(
            ctx.now - ctx.limits.max_lateness_s - rng.uniform(HOUR_S, 60 * DAY_S)
        )
    return _message(event["device_id"], encode(event))


def unknown_device(ctx: BadInputContext) -> KafkaMessage:
    """A good event from a device not in the registry: a replacement installed but not registered yet."""
    event = ctx.factory.random_event(ctx.clock)
    event["device_id"] = f"{event['device_id']}-new{ctx.factory.rng.randint(1, 99)}"
    return _message(event["device_id"], encode(event))


def payload_too_large(ctx: BadInputContext) -> KafkaMessage:
    """A good event carrying a diagnostics dump that takes it 1 byte to 8 KiB over the payload limit."""
    rng, event = ctx.factory.rng, ctx.factory.random_event(ctx.clock)
    event["attributes"]["diagnostics"] = ""
    size = ctx.limits.max_payload_bytes + rng.randint(1, 8192)
    filler = size - len(encode(event))
    event["attributes"]["diagnostics"] = rng.randbytes((filler + 1) // 2).hex()[:filler]
    return _message(event["device_id"], encode(event))


# In the validator's order of checks; every value is a distinct reason.
BAD_INPUT: dict[Reason, Callable[[BadInputContext], KafkaMessage]] = {
    Reason.PAYLOAD_TOO_LARGE: payload_too_large,
    Reason.NOT_JSON: not_json,
    Reason.NOT_AN_OBJECT: not_an_object,
    Reason.MISSING_FIELD: missing_field,
    Reason.WRONG_TYPE: wrong_type,
    Reason.UNKNOWN_EVENT_TYPE: unknown_event_type,
    Reason.UNKNOWN_METRIC: unknown_metric,
    Reason.NOT_FINITE: not_finite,
    Reason.OUT_OF_RANGE: out_of_range,
    Reason.BAD_EVENT_TIME: bad_event_time,
    Reason.EVENT_TIME_IN_FUTURE: event_time_in_future,
    Reason.EVENT_TIME_TOO_OLD: event_time_too_old,
    Reason.UNKNOWN_DEVICE: unknown_device,
}
BAD_KINDS = tuple(BAD_INPUT)
