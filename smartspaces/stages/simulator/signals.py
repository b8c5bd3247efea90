"""Plausible readings over a day: occupancy follows office hours, and CO2, temperature and humidity follow it.

Every function takes an epoch time in seconds (UTC) and works in the campus's local time. Values stay well
inside the contract's metric ranges; energy meters are a non-decreasing function of time, so a reading sent
late still fits between the readings around it.
"""

from __future__ import annotations

import math
import random
from datetime import datetime

from smartspaces.stages.simulator.campus import Space
from transformations.contract import Severity

SECONDS_PER_DAY = 86_400
# 1970-01-01 was a Thursday: (epoch day + 3) % 7 is 0 on Mondays.
EPOCH_WEEKDAY_SHIFT = 3

# Percent of the capacity present on a weekday, by local hour 0-23 (interpolated within the hour).
WEEKDAY_OCCUPANCY_PCT: dict[str, tuple[int, ...]] = {
    "office": (0, 0, 0, 0, 0, 0, 2, 10, 35, 60, 75, 80, 60, 70, 80, 75, 60, 35, 15, 5, 2, 0, 0, 0),
    "meeting_room": (0, 0, 0, 0, 0, 0, 0, 2, 15, 45, 60, 50, 25, 40, 60, 55, 45, 20, 5, 0, 0, 0, 0, 0),
    "open_space": (0, 0, 0, 0, 0, 0, 3, 15, 40, 65, 75, 75, 55, 65, 75, 70, 55, 30, 12, 4, 1, 0, 0, 0),
    "lobby": (0, 0, 0, 0, 0, 1, 5, 30, 60, 35, 15, 20, 45, 30, 15, 15, 20, 45, 35, 10, 5, 2, 0, 0),
    "corridor": (0, 0, 0, 0, 0, 0, 2, 15, 35, 25, 15, 20, 35, 25, 15, 15, 20, 35, 20, 5, 2, 0, 0, 0),
}
WEEKEND_FACTOR = 0.06
# How many ppm above outdoor air one person per m² adds; lobbies and corridors are large and well ventilated.
CO2_PPM_PER_PERSON_PER_M2 = {
    "office": 6000.0,
    "meeting_room": 5000.0,
    "open_space": 6000.0,
    "lobby": 1500.0,
    "corridor": 1000.0,
}
OUTDOOR_CO2_PPM = 420.0
# Heating runs to 21 °C from 6 to 20 h on weekdays and is set back to 20 °C otherwise.
COMFORT_C, SETBACK_C = 21.0, 20.0
HVAC_HOURS = (6.0, 20.0)

# (severity, codes, share of alarms). Access and status codes are the contract's ACCESS_CODES and STATUS_CODES.
ALARMS = (
    (Severity.INFO.value, ("panel_test", "maintenance_due"), 0.55),
    (Severity.WARNING.value, ("filter_clogged", "backup_battery_low", "water_leak_suspected"), 0.35),
    (Severity.CRITICAL.value, ("fire", "smoke", "intrusion", "water_leak"), 0.10),
)
ACCESS_WEIGHTS_OPEN = {"granted": 0.94, "denied": 0.04, "held_open": 0.015, "forced": 0.005}
ACCESS_WEIGHTS_CLOSED = {"granted": 0.8, "denied": 0.17, "held_open": 0.01, "forced": 0.02}
STATUS_WEIGHTS = {"online": 0.85, "battery_low": 0.10, "offline": 0.03, "tamper": 0.02}


def local_hour_and_weekday(t: float, utc_offset_s: int) -> tuple[float, int]:
    """The local hour of the day (0 ≤ h < 24, with its fraction) and the weekday (0 = Monday)."""
    day, second = divmod(t + utc_offset_s, SECONDS_PER_DAY)
    return second / 3600.0, (int(day) + EPOCH_WEEKDAY_SHIFT) % 7


class SpaceSignals:
    """The climate of one space over time: occupancy drives its CO2, temperature and humidity."""

    __slots__ = (
        "area_m2",
        "capacity",
        "co2_per_density",
        "curve",
        "humidity_offset",
        "popularity",
        "temperature_offset",
        "utc_offset_s",
    )

    def __init__(self, space: Space, rng: random.Random, utc_offset_s: int) -> None:
        self.capacity = space.capacity
        self.area_m2 = space.area_m2
        self.curve = tuple(pct / 100.0 for pct in WEEKDAY_OCCUPANCY_PCT[space.space_type])
        self.co2_per_density = CO2_PPM_PER_PERSON_PER_M2[space.space_type]
        self.utc_offset_s = utc_offset_s
        # Some rooms are busier than others; some run warmer or damper.
        self.popularity = rng.uniform(0.7, 1.15)
        self.temperature_offset = rng.uniform(-0.5, 0.5)
        self.humidity_offset = rng.uniform(-4.0, 4.0)

    def occupancy_ratio(self, t: float) -> float:
        """The share of the capacity present at time t (0 at night, highest mid-morning and mid-afternoon)."""
        hour, weekday = local_hour_and_weekday(t, self.utc_offset_s)
        whole = int(hour)
        start, end = self.curve[whole], self.curve[(whole + 1) % 24]
        ratio = (start + (end - start) * (hour - whole)) * self.popularity
        if weekday >= 5:
            ratio *= WEEKEND_FACTOR
        return min(ratio, 1.0)

    def occupancy(self, t: float, rng: random.Random) -> float:
        """People counted: the expected number with a counting error of about one person."""
        counted = round(self.capacity * self.occupancy_ratio(t) + (rng.random() - 0.5) * 2.0)
        return float(min(max(counted, 0), self.capacity))

    def co2(self, t: float, rng: random.Random) -> float:
        people_per_m2 = self.capacity * self.occupancy_ratio(t) / self.area_m2
        return float(round(OUTDOOR_CO2_PPM + self.co2_per_density * people_per_m2 + (rng.random() - 0.5) * 30.0))

    def temperature(self, t: float, rng: random.Random) -> float:
        hour, weekday = local_hour_and_weekday(t, self.utc_offset_s)
        heated = weekday < 5 and HVAC_HOURS[0] <= hour < HVAC_HOURS[1]
        setpoint = COMFORT_C if heated else SETBACK_C
        # People warm a room: up to 2 °C at full capacity.
        value = setpoint + self.temperature_offset + 2.0 * self.occupancy_ratio(t) + (rng.random() - 0.5) * 0.3
        return round(value, 2)

    def humidity(self, t: float, rng: random.Random) -> float:
        value = 40.0 + self.humidity_offset + 10.0 * self.occupancy_ratio(t) + (rng.random() - 0.5) * 2.0
        return round(min(max(value, 30.0), 60.0), 1)


def _daytime_hours(t: float, utc_offset_s: int) -> float:
    """∫ of the daytime load profile max(0, sin(π(h-6)/14)) from the epoch to t, in hours: non-decreasing in t."""
    day, second = divmod(t + utc_offset_s, SECONDS_PER_DAY)
    hour = second / 3600.0
    per_day = 28.0 / math.pi
    if hour < 6.0:
        partial = 0.0
    elif hour < 20.0:
        partial = 14.0 / math.pi * (1.0 - math.cos(math.pi * (hour - 6.0) / 14.0))
    else:
        partial = per_day
    return day * per_day + partial


class EnergyMeter:
    """A cumulative kWh meter: a base load all day plus a daytime load; the reading never decreases."""

    __slots__ = ("base_kw", "installed_s", "peak_kw", "start_kwh", "start_profile", "utc_offset_s")

    def __init__(self, installed_at: datetime, rng: random.Random, utc_offset_s: int) -> None:
        self.installed_s = installed_at.timestamp()
        self.utc_offset_s = utc_offset_s
        # A new meter starts at 0; a reused one at its old reading.
        self.start_kwh = 0.0 if rng.random() < 0.5 else round(rng.uniform(100.0, 5000.0), 3)
        self.base_kw = rng.uniform(0.3, 2.5)
        self.peak_kw = rng.uniform(1.0, 8.0)
        self.start_profile = _daytime_hours(self.installed_s, utc_offset_s)

    def reading(self, t: float) -> float:
        t = max(t, self.installed_s)
        hours = (t - self.installed_s) / 3600.0
        daytime = _daytime_hours(t, self.utc_offset_s) - self.start_profile
        return round(self.start_kwh + self.base_kw * hours + self.peak_kw * daytime, 3)


def _weighted(weights: dict[str, float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    names, cumulative, total = [], [], 0.0
    for name, weight in weights.items():
        total += weight
        names.append(name)
        cumulative.append(total)
    return tuple(names), tuple(cumulative)


_ACCESS_OPEN, _ACCESS_CLOSED, _STATUS = (
    _weighted(ACCESS_WEIGHTS_OPEN),
    _weighted(ACCESS_WEIGHTS_CLOSED),
    _weighted(STATUS_WEIGHTS),
)
_SEVERITIES = _weighted({severity: share for severity, _, share in ALARMS})
_ALARM_CODES = {severity: codes for severity, codes, _ in ALARMS}


def alarm(rng: random.Random) -> tuple[str, str]:
    """(severity, code) of an alarm: mostly tests and maintenance, rarely critical."""
    severity = rng.choices(_SEVERITIES[0], cum_weights=_SEVERITIES[1])[0]
    return severity, rng.choice(_ALARM_CODES[severity])


def access_code(rng: random.Random, occupancy_ratio: float) -> str:
    """A badge reader's verdict: granted mostly; denied or forced more often when the building is empty."""
    names, cumulative = _ACCESS_OPEN if occupancy_ratio >= 0.05 else _ACCESS_CLOSED
    return rng.choices(names, cum_weights=cumulative)[0]


def status_code(rng: random.Random) -> str:
    return rng.choices(_STATUS[0], cum_weights=_STATUS[1])[0]
