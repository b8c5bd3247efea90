"""Good device events per the contract (v1), from a campus's devices, encoded as Kafka key and value bytes.

Everything random comes from one seeded `random.Random`, so the same seed and clock give the same bytes.
"""

from __future__ import annotations

import json
import random
import uuid
from bisect import bisect_right
from datetime import datetime, timedelta, timezone
from typing import Any

from smartspaces.stages.simulator import signals
from smartspaces.stages.simulator.campus import TELEMETRY_DEVICE_TYPES, Campus, Device
from transformations.contract import METRICS, SCHEMA_VERSION, EventType

Event = dict[str, Any]

# Compact JSON. allow_nan (the default) writes NaN and Infinity unquoted, as a faulty device would.
_ENCODER = json.JSONEncoder(separators=(",", ":"))
# Good events can be padded with this attribute to reach a payload size (for benchmarks).
PAD_ATTRIBUTE = "pad"
_PAD_OVERHEAD = len(f',"{PAD_ATTRIBUTE}":""')

# How often a device is picked relative to a sensor, and the share of its events that are status events.
DEVICE_WEIGHT = {"door": 0.5, "alarm_panel": 0.05}
STATUS_SHARE = {"alarm_panel": 0.3}
DEFAULT_STATUS_SHARE = 0.02

_TELEMETRY, _STATUS, _ACCESS, _ALARM = (
    kind.value for kind in (EventType.TELEMETRY, EventType.STATUS, EventType.ACCESS, EventType.ALARM)
)


def encode(event: Event) -> bytes:
    return _ENCODER.encode(event).encode()


def encode_padded(event: Event, payload_bytes: int | None) -> bytes:
    """The event's bytes, padded with a filler attribute to about `payload_bytes` when it is shorter."""
    body = encode(event)
    missing = (payload_bytes or 0) - len(body) - _PAD_OVERHEAD
    if missing <= 0:
        return body
    event["attributes"][PAD_ATTRIBUTE] = "." * missing
    return encode(event)


def new_event_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def format_event_time(t: float, zone: timezone) -> str:
    """ISO 8601 with milliseconds and the offset, e.g. 2026-11-25T11:00:00.123+01:00 (truncated, never later)."""
    return datetime.fromtimestamp(t, zone).isoformat(timespec="milliseconds")


class _DeviceState:
    __slots__ = ("device", "firmware", "held_open", "meter", "space", "status_share")

    def __init__(
        self, device: Device, space: signals.SpaceSignals, meter: signals.EnergyMeter | None, firmware: str
    ) -> None:
        self.device = device
        self.space = space
        self.meter = meter
        self.firmware = firmware
        self.status_share = STATUS_SHARE.get(device.device_type, DEFAULT_STATUS_SHARE)
        # A door that reported held_open reports closed with its next access event.
        self.held_open = False


class EventFactory:
    """Builds good events of a campus's devices at given epoch times, in the campus's UTC offset.

    Built with `earlier` (the factory of the campus's previous version), spaces keep their climate and
    devices their firmware and meter: a moved device reports from its new space's signals, an added one
    starts, and a retired one sends nothing.
    """

    def __init__(
        self, campus: Campus, rng: random.Random, utc_offset_minutes: int, earlier: EventFactory | None = None
    ) -> None:
        self.rng = rng
        self.zone = timezone(timedelta(minutes=utc_offset_minutes))
        offset_s = utc_offset_minutes * 60
        self.climates: dict[str, signals.SpaceSignals] = dict(earlier.climates) if earlier else {}
        for space in campus.spaces:
            if space.space_id not in self.climates:
                self.climates[space.space_id] = signals.SpaceSignals(space, rng, offset_s)
        previous = {state.device.device_id: state for state in earlier.devices} if earlier else {}
        self.devices: list[_DeviceState] = []
        for device in campus.devices:
            if device.retired_at is not None:
                continue
            climate = self.climates[device.space_id]
            if device.device_id in previous:
                kept = previous[device.device_id]
                self.devices.append(_DeviceState(device, climate, kept.meter, kept.firmware))
                continue
            meter = signals.EnergyMeter(device.installed_at, rng, offset_s) if device.device_type == "energy" else None
            firmware = f"{rng.randint(1, 4)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}"
            self.devices.append(_DeviceState(device, climate, meter, firmware))
        self._cumulative: list[float] = []
        total = 0.0
        for state in self.devices:
            total += DEVICE_WEIGHT.get(state.device.device_type, 1.0)
            self._cumulative.append(total)
        self._total_weight = total
        self._sensors = [state for state in self.devices if state.device.device_type in TELEMETRY_DEVICE_TYPES]
        self._doors = [state for state in self.devices if state.device.device_type == "door"]

    def event_id(self) -> str:
        return new_event_id(self.rng)

    def event_time(self, t: float) -> str:
        return format_event_time(t, self.zone)

    def random_event(self, t: float) -> Event:
        """A good event at time t from a device picked by its weight (sensors report more often than panels)."""
        index = bisect_right(self._cumulative, self.rng.random() * self._total_weight)
        return self.event(self.devices[min(index, len(self.devices) - 1)], t)

    def random_telemetry(self, t: float) -> Event:
        """A good telemetry event at time t from a sensor picked uniformly."""
        state = self._sensors[int(self.rng.random() * len(self._sensors))]
        return self._telemetry(state, t)

    def forced_door(self, t: float) -> Event:
        """A door forced open at time t, from a door picked uniformly."""
        state = self._doors[int(self.rng.random() * len(self._doors))]
        return self._coded(state, _ACCESS, "forced", t, {"fw": state.firmware})

    def event(self, state: _DeviceState, t: float) -> Event:
        kind = state.device.device_type
        if self.rng.random() < state.status_share:
            return self._status(state, t)
        if kind == "door":
            return self._access(state, t)
        if kind == "alarm_panel":
            return self._alarm(state, t)
        return self._telemetry(state, t)

    def _telemetry(self, state: _DeviceState, t: float) -> Event:
        metric = state.device.device_type
        rng, space = self.rng, state.space
        if state.meter is not None:
            value = state.meter.reading(t)
        elif metric == "temperature":
            value = space.temperature(t, rng)
        elif metric == "humidity":
            value = space.humidity(t, rng)
        elif metric == "co2":
            value = space.co2(t, rng)
        else:
            value = space.occupancy(t, rng)
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id(),
            "device_id": state.device.device_id,
            "event_type": _TELEMETRY,
            "metric": metric,
            "value": value,
            "unit": METRICS[metric].unit,
            "event_time": self.event_time(t),
            "attributes": {"fw": state.firmware},
        }

    def _status(self, state: _DeviceState, t: float) -> Event:
        code = signals.status_code(self.rng)
        attributes = {"fw": state.firmware}
        if code == "battery_low":
            attributes["battery_pct"] = str(self.rng.randint(3, 15))
        return self._coded(state, _STATUS, code, t, attributes)

    def _access(self, state: _DeviceState, t: float) -> Event:
        if state.held_open:
            state.held_open = False
            return self._coded(state, _ACCESS, "closed", t, {"fw": state.firmware})
        code = signals.access_code(self.rng, state.space.occupancy_ratio(t))
        state.held_open = code == "held_open"
        attributes = {"fw": state.firmware}
        if code in ("granted", "denied"):
            attributes["badge"] = f"B{self.rng.randint(100_000, 999_999)}"
        return self._coded(state, _ACCESS, code, t, attributes)

    def _alarm(self, state: _DeviceState, t: float) -> Event:
        severity, code = signals.alarm(self.rng)
        attributes = {"fw": state.firmware, "zone": f"Z{self.rng.randint(1, 8)}"}
        return self._coded(state, _ALARM, code, t, attributes, severity)

    def _coded(
        self,
        state: _DeviceState,
        event_type: str,
        code: str,
        t: float,
        attributes: dict[str, str],
        severity: str | None = None,
    ) -> Event:
        event: Event = {
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id(),
            "device_id": state.device.device_id,
            "event_type": event_type,
        }
        if severity is not None:
            event["severity"] = severity
        event.update(code=code, event_time=self.event_time(t), attributes=attributes)
        return event
