"""The connector jars: resolved once per pin set, recorded, and reused (no JVM: the resolver is replaced)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from smartspaces import connector_jars as jars_module
from smartspaces.config import SparkSettings, load_settings
from smartspaces.connector_jars import connector_jars, ivy_home, jars_of_spark_conf, read_record, record_path
from smartspaces.pins import load_pins


class FakeResolver:
    """Stands for Spark's Ivy: 'resolves' into ivy_home/jars and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, coordinates: Sequence[str], home: Path, report: Path) -> list[Path]:
        self.calls += 1
        (home / "jars").mkdir(parents=True, exist_ok=True)
        jars = [home / "jars" / f"{coordinate.replace(':', '_')}.jar" for coordinate in coordinates]
        for jar in jars:
            jar.write_bytes(b"jar")
        return jars


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    fake = FakeResolver()
    monkeypatch.setattr(jars_module, "_resolve_with_spark", fake)
    return fake


def spark_settings(home: Path) -> SparkSettings:
    return SparkSettings(master="local[2]", ivy_cache_dir=home)


def test_the_local_environment_resolves_into_the_project_ivy_cache() -> None:
    settings = load_settings("local", environ={})
    assert settings.stack is not None
    assert ivy_home(settings.spark) == settings.stack.data_dir / "ivy"


def test_spark_jars_value_is_read_as_local_paths_in_classpath_order() -> None:
    value = "file:///ivy/jars/b_kafka.jar,file:///ivy/jars/a%20b.jar,/opt/extra.jar,"
    assert jars_of_spark_conf(value) == [
        Path("/ivy/jars/b_kafka.jar"),
        Path("/ivy/jars/a b.jar"),
        Path("/opt/extra.jar"),
    ]


def test_the_pins_are_resolved_once_then_read_from_the_record(tmp_path: Path, resolver: FakeResolver) -> None:
    first = connector_jars(spark_settings(tmp_path))
    second = connector_jars(spark_settings(tmp_path))
    assert resolver.calls == 1
    assert second == first
    assert [jar.name for jar in first] == [f"{c.replace(':', '_')}.jar" for c in load_pins().spark_packages]


def test_a_record_whose_jar_has_gone_is_resolved_again(tmp_path: Path, resolver: FakeResolver) -> None:
    jars = connector_jars(spark_settings(tmp_path))
    jars[-1].unlink()
    assert connector_jars(spark_settings(tmp_path)) == jars
    assert resolver.calls == 2


def test_a_pin_change_has_a_record_of_its_own() -> None:
    home = Path("/ivy")
    pinned = ("io.delta:delta-spark_2.12:3.3.2",)
    assert record_path(home, "3.5.7", pinned) != record_path(home, "3.5.7", ("io.delta:delta-spark_2.12:3.3.3",))
    assert record_path(home, "3.5.7", pinned) != record_path(home, "3.5.8", pinned)


def test_a_record_of_other_pins_is_not_read(tmp_path: Path, resolver: FakeResolver) -> None:
    connector_jars(spark_settings(tmp_path))
    pins = load_pins()
    record = record_path(tmp_path, pins.spark_version, pins.spark_packages)
    assert read_record(record, pins.spark_version, pins.spark_packages) is not None
    assert read_record(record, pins.spark_version, pins.spark_packages[:-1]) is None
    assert read_record(record, "4.0.0", pins.spark_packages) is None
