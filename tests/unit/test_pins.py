"""Every version is pinned once; what must match (Spark ↔ its connectors) is derived, and installed as pinned."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from smartspaces.pins import load_pins


def test_spark_connectors_are_derived_from_the_python_pins() -> None:
    pins = load_pins()
    assert f"org.apache.spark:spark-sql-kafka-0-10_2.12:{pins.python['pyspark']}" in pins.spark_packages
    assert f"io.delta:delta-spark_2.12:{pins.python['delta-spark']}" in pins.spark_packages


def test_every_spark_package_is_built_for_pysparks_scala() -> None:
    pins = load_pins()
    scala_builds = [coordinate.split(":")[1] for coordinate in pins.spark_packages if "_2." in coordinate]
    assert len(scala_builds) == 3
    assert all(artifact.endswith(f"_{pins.scala_binary}") for artifact in scala_builds)


def test_pinned_stack_is_the_one_the_platform_promises() -> None:
    pins = load_pins()
    assert pins.spark_version.startswith("3.5.")
    assert pins.python["delta-spark"].startswith("3.3.")
    assert "com.datastax.spark:spark-cassandra-connector_2.12:3.5.1" in pins.spark_packages
    assert any(coordinate.startswith("org.postgresql:postgresql:42.7.") for coordinate in pins.spark_packages)
    assert any(coordinate.startswith("com.mysql:mysql-connector-j:9.") for coordinate in pins.spark_packages)
    assert pins.servers["kafka"].version.startswith("3.9.")
    assert pins.servers["cassandra"].version.startswith("5.0.")
    assert pins.servers["kafka"].artifacts[0] == f"org.apache.kafka:kafka_2.13:{pins.servers['kafka'].version}"


def test_installed_python_packages_are_the_pinned_ones() -> None:
    pins = load_pins()
    for package in ("pyspark", "delta-spark", "cassandra-driver", "psycopg", "redis", "chispa", "pytest"):
        assert metadata.version(package) == pins.python_version(package), package


def test_the_image_carries_hadoop_azure_at_the_hadoop_version_pyspark_ships() -> None:
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    (client_api,) = jars.glob("hadoop-client-api-*.jar")
    hadoop_version = client_api.name.removeprefix("hadoop-client-api-").removesuffix(".jar")
    assert f"org.apache.hadoop:hadoop-azure:{hadoop_version}" in load_pins().image_packages
    # Only the image: a local session resolves no Azure jars.
    assert not any("hadoop-azure" in coordinate for coordinate in load_pins().spark_packages)
