"""A seeded campus: buildings → floors → spaces → devices, and its reference drop (spaces.csv, devices.csv).

The same seed and `now` always give the same campus, so a test can rebuild the registry a run used; the
same seed and time give the same later version of it (devices moved, added and retired).
"""

from __future__ import annotations

import csv
import dataclasses
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

SPACE_TYPES = ("office", "meeting_room", "open_space", "lobby", "corridor")
DEVICE_TYPES = ("temperature", "humidity", "co2", "occupancy", "energy", "door", "alarm_panel")
# Device types that send telemetry, each measuring the metric of the same name.
TELEMETRY_DEVICE_TYPES = ("temperature", "humidity", "co2", "occupancy", "energy")

SPACES_FILE = "spaces.csv"
DEVICES_FILE = "devices.csv"
SPACE_COLUMNS = ("space_id", "campus_id", "building_id", "floor", "name", "space_type", "area_m2", "capacity", "tenant")
DEVICE_COLUMNS = ("device_id", "space_id", "device_type", "model", "installed_at", "retired_at")
# Each floor is let to one tenant; lobbies and corridors are common areas (no tenant).
TENANTS = ("Northwind Traders", "Contoso Consulting", "Fabrikam Labs", "Adatum Health", "Tailspin Studios")
COMMON_AREAS = ("lobby", "corridor")

# What each kind of space is equipped with (one device per entry).
EQUIPMENT: dict[str, tuple[str, ...]] = {
    "office": ("temperature", "humidity", "co2", "occupancy"),
    "meeting_room": ("temperature", "co2", "occupancy"),
    "open_space": ("temperature", "temperature", "humidity", "co2", "co2", "occupancy", "energy"),
    "lobby": ("temperature", "occupancy", "door", "door", "alarm_panel"),
    # The floor's distribution board meter, its stairwell door and its fire panel.
    "corridor": ("energy", "door", "alarm_panel"),
}
MODELS: dict[str, tuple[str, ...]] = {
    "temperature": ("ThermaSense T2", "ThermaSense T3"),
    "humidity": ("HygroLine H1",),
    "co2": ("AirQ C400", "AirQ C410 NDIR"),
    "occupancy": ("PeopleCount P7", "Lidar PC-2"),
    "energy": ("Meterix E3 3-phase",),
    "door": ("Axis Door A100", "BadgeGate G5"),
    "alarm_panel": ("FireGuard FP-8",),
}
# (smallest area m², largest area m², m² per person at full capacity)
SPACE_SIZES: dict[str, tuple[int, int, float]] = {
    "office": (12, 40, 8.0),
    "meeting_room": (15, 45, 2.5),
    "open_space": (120, 400, 9.0),
    "lobby": (80, 200, 2.0),
    "corridor": (40, 120, 4.0),
}


@dataclass(frozen=True, slots=True)
class Space:
    space_id: str
    campus_id: str
    building_id: str
    floor: int
    name: str
    space_type: str
    area_m2: float
    capacity: int
    tenant: str | None


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    space_id: str
    device_type: str
    model: str
    installed_at: datetime
    # Set once the device is out of service; it stays in the drop so its history can be closed then.
    retired_at: datetime | None = None


@dataclass(frozen=True)
class Campus:
    spaces: tuple[Space, ...]
    devices: tuple[Device, ...]

    @cached_property
    def spaces_by_id(self) -> dict[str, Space]:
        return {space.space_id: space for space in self.spaces}


def build_campus(buildings: int, seed: int, now: datetime) -> Campus:
    """A campus of `buildings` buildings with 2-5 floors each; devices were installed 30-1000 days before `now`."""
    if buildings < 1:
        raise ValueError(f"buildings must be at least 1, got {buildings}")
    rng = random.Random(f"campus-{seed}")
    # Tenants come from a generator of their own, so the campus's layout does not depend on them.
    tenants = random.Random(f"tenants-{seed}")
    campus_id = f"campus-{seed}"
    spaces: list[Space] = []
    devices: list[Device] = []
    for building in range(1, buildings + 1):
        building_id = f"b{building:02d}"
        for floor in range(rng.randint(2, 5)):
            tenant = tenants.choice(TENANTS)
            for index, space_type in enumerate(_floor_plan(rng, floor), start=1):
                space = _space(rng, campus_id, building_id, floor, index, space_type, tenant)
                spaces.append(space)
                devices.extend(_equip(rng, space, now))
    return Campus(tuple(spaces), tuple(devices))


def _floor_plan(rng: random.Random, floor: int) -> list[str]:
    plan = ["lobby"] if floor == 0 else []
    plan += ["corridor"] + ["office"] * rng.randint(3, 6) + ["meeting_room"] * rng.randint(1, 3)
    return plan + ["open_space"] * rng.randint(0, 1)


def _space(
    rng: random.Random, campus_id: str, building_id: str, floor: int, index: int, space_type: str, tenant: str
) -> Space:
    smallest, largest, area_per_person = SPACE_SIZES[space_type]
    area = float(rng.randint(smallest, largest))
    label = space_type.replace("_", " ").capitalize()
    return Space(
        space_id=f"{building_id}-f{floor}-s{index:02d}",
        campus_id=campus_id,
        building_id=building_id,
        floor=floor,
        name=f"{label} {building_id.upper()}.{floor}.{index:02d}",
        space_type=space_type,
        area_m2=area,
        capacity=max(1, int(area / area_per_person)),
        tenant=None if space_type in COMMON_AREAS else tenant,
    )


def _equip(rng: random.Random, space: Space, now: datetime) -> list[Device]:
    devices = []
    for device_type in sorted(set(EQUIPMENT[space.space_type])):
        for number in range(1, EQUIPMENT[space.space_type].count(device_type) + 1):
            installed = now - timedelta(days=rng.randint(30, 1000), seconds=rng.randint(0, 86_399))
            devices.append(
                Device(
                    device_id=f"{space.space_id}-{device_type}-{number}",
                    space_id=space.space_id,
                    device_type=device_type,
                    model=rng.choice(MODELS[device_type]),
                    installed_at=installed.replace(microsecond=0),
                )
            )
    return devices


def write_reference(campus: Campus, folder: Path) -> tuple[Path, Path]:
    """Writes the reference drop (spaces.csv, devices.csv with a header row) that jobs.reference loads."""
    folder.mkdir(parents=True, exist_ok=True)
    spaces_path, devices_path = folder / SPACES_FILE, folder / DEVICES_FILE
    with spaces_path.open("w", newline="", encoding="utf-8") as spaces_file:
        writer = csv.writer(spaces_file)
        writer.writerow(SPACE_COLUMNS)
        writer.writerows(
            (s.space_id, s.campus_id, s.building_id, s.floor, s.name, s.space_type, s.area_m2, s.capacity, s.tenant)
            for s in campus.spaces
        )
    with devices_path.open("w", newline="", encoding="utf-8") as devices_file:
        writer = csv.writer(devices_file)
        writer.writerow(DEVICE_COLUMNS)
        writer.writerows(
            (
                d.device_id,
                d.space_id,
                d.device_type,
                d.model,
                d.installed_at.isoformat(),
                d.retired_at.isoformat() if d.retired_at else None,
            )
            for d in campus.devices
        )
    return spaces_path, devices_path


def evolve_campus(campus: Campus, seed: int, at: datetime, moved: int = 0, added: int = 0, retired: int = 0) -> Campus:
    """The campus's next version at `at`, the same for the same seed and time.

    `moved` devices in service move to another space of their building (same device_id), `added` new ones
    are installed at `at`, and `retired` others are retired at `at` (still listed, with retired_at set).
    """
    if min(moved, added, retired) < 0:
        raise ValueError(f"moved, added and retired must not be negative, got {moved}, {added}, {retired}")
    in_service = [device.device_id for device in campus.devices if device.retired_at is None]
    if moved + retired > len(in_service):
        raise ValueError(f"{moved} moved + {retired} retired exceed the {len(in_service)} devices in service")
    rng = random.Random(f"evolve-{seed}-{at.isoformat()}")
    chosen = rng.sample(in_service, moved + retired)
    to_move, to_retire = set(chosen[:moved]), set(chosen[moved:])
    spaces_of_building: defaultdict[str, list[Space]] = defaultdict(list)
    for space in campus.spaces:
        spaces_of_building[space.building_id].append(space)
    devices = []
    for device in campus.devices:
        if device.device_id in to_move:
            building = campus.spaces_by_id[device.space_id].building_id
            others = [space for space in spaces_of_building[building] if space.space_id != device.space_id]
            device = dataclasses.replace(device, space_id=rng.choice(others).space_id)
        elif device.device_id in to_retire:
            device = dataclasses.replace(device, retired_at=at)
        devices.append(device)
    taken = {device.device_id for device in campus.devices}
    for _ in range(added):
        space = rng.choice(campus.spaces)
        device_type = rng.choice(EQUIPMENT[space.space_type])
        number = 1
        while f"{space.space_id}-{device_type}-{number}" in taken:
            number += 1
        device_id = f"{space.space_id}-{device_type}-{number}"
        taken.add(device_id)
        devices.append(Device(device_id, space.space_id, device_type, rng.choice(MODELS[device_type]), at))
    return Campus(campus.spaces, tuple(devices))


@dataclass(frozen=True)
class DeviceChanges:
    """Which devices differ between two versions of a campus."""

    # device_id → (space before, space after)
    moved: dict[str, tuple[str, str]]
    added: tuple[str, ...]
    retired: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """As JSON types: {"moved": {device: [from, to]}, "added": [...], "retired": [...]}."""
        moved = {device: list(spaces) for device, spaces in self.moved.items()}
        return {"moved": moved, "added": list(self.added), "retired": list(self.retired)}


def device_changes(before: Campus, after: Campus) -> DeviceChanges:
    """The devices moved, added and retired from `before` to `after`."""
    earlier = {device.device_id: device for device in before.devices}
    moved: dict[str, tuple[str, str]] = {}
    added, retired = [], []
    for device in after.devices:
        previous = earlier.get(device.device_id)
        if previous is None:
            added.append(device.device_id)
        elif device.retired_at is not None and previous.retired_at is None:
            retired.append(device.device_id)
        elif device.space_id != previous.space_id:
            moved[device.device_id] = (previous.space_id, device.space_id)
    return DeviceChanges(moved, tuple(added), tuple(retired))
