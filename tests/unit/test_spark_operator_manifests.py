"""spark-operator/*.yaml: rendered from the pins, and valid against the Spark Operator's CRD schemas (read in
place and closed: tests/unit/manifest_schemas.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from smartspaces.config import load_settings
from smartspaces.manifests import (
    ENRICH_DRIVER_PYTHON_MIB,
    KUSTOMIZATION,
    mebibytes,
    render_manifests,
    render_spark_operator,
)
from tests.unit.manifest_schemas import errors_of

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = REPO_ROOT / "spark-operator"


def manifest_files() -> list[Path]:
    return sorted(path for path in MANIFESTS.glob("*.yaml") if path.name != KUSTOMIZATION)


def test_manifests_on_disk_are_the_ones_the_pins_render() -> None:
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in MANIFESTS.glob("*.yaml")}
    rendered = render_spark_operator()
    differing = sorted(name for name in on_disk.keys() | rendered.keys() if on_disk.get(name) != rendered.get(name))
    assert differing == [], f"spark-operator/ is stale ({', '.join(differing)}): run `smartspaces manifests render`"


@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: path.name)
def test_manifest_is_valid_against_the_operator_crd(path: Path) -> None:
    documents = [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]
    assert documents, f"{path.name} holds no document"
    for document in documents:
        assert errors_of(document) == [], f"{path.name}: {document['metadata']['name']}"


def test_validator_reports_each_mistake_of_a_broken_manifest() -> None:
    manifest = yaml.safe_load(render_manifests()["smoke.yaml"])
    broken = copy.deepcopy(manifest)
    broken["spec"]["driver"]["coress"] = 1
    broken["spec"]["mode"] = "batch"
    broken["spec"]["sparkConf"]["spark.executor.instances"] = 2
    del broken["spec"]["sparkVersion"]

    assert errors_of(manifest) == []
    assert errors_of(broken) == [
        ("spec", "'sparkVersion' is a required property"),
        ("spec/driver", "Additional properties are not allowed ('coress' was unexpected)"),
        ("spec/mode", "'batch' is not one of ['cluster', 'client']"),
        ("spec/sparkConf/spark.executor.instances", "2 is not of type 'string'"),
    ]


def pod_secrets(pod: dict[str, Any]) -> set[str]:
    """The Kubernetes secret keys a pod's environment reads."""
    return {
        variable["valueFrom"]["secretKeyRef"]["key"]
        for variable in pod.get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
    }


def application_spec(document: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = document["spec"]
    return spec["template"] if document["kind"] == "ScheduledSparkApplication" else spec


def test_each_driver_gets_only_the_secrets_its_job_reads_and_executors_none() -> None:
    wanted = {
        "smoke.yaml": {"eventhubs-connection-string", "cosmos-account-key", "postgres-password", "redis-access-key"},
        "ingest.yaml": {"eventhubs-connection-string", "cosmos-account-key"},
        "changefeed.yaml": {"cosmos-account-key", "redis-access-key"},
        "cache-warmup.yaml": {"cosmos-account-key", "redis-access-key"},
        "reference.yaml": {"cosmos-account-key"},
        # The enrichment only reads Cosmos DB: the account's read-only key.
        "enrich.yaml": {"cosmos-read-only-key", "postgres-password"},
    }
    for name, text in render_manifests().items():
        spec = application_spec(yaml.safe_load(text))
        assert (name, pod_secrets(spec["driver"])) == (name, wanted[name])
        assert (name, pod_secrets(spec["executor"])) == (name, set())


def test_the_enrichment_writes_postgresql_as_the_writer_role() -> None:
    spec = application_spec(yaml.safe_load(render_manifests()["enrich.yaml"]))
    settings = {variable["name"]: variable.get("value") for variable in spec["driver"]["env"]}
    assert settings["SMARTSPACES__POSTGRES__USER"] == "reporting_writer"


def test_the_enrichments_driver_pod_holds_its_jvm_within_one_and_a_half_gib_and_its_python_process() -> None:
    spec = application_spec(yaml.safe_load(render_manifests()["enrich.yaml"]))
    driver = spec["driver"]
    heap = load_settings("aks", environ={}).enrichment.driver_memory
    assert heap is not None and driver["memory"] == heap
    assert mebibytes(driver["memory"]) + mebibytes(driver["memoryOverhead"]) == 1536 + ENRICH_DRIVER_PYTHON_MIB
    driver_options = spec["sparkConf"]["spark.driver.extraJavaOptions"].split()
    assert {"-XX:+UseParallelGC", f"-Xms{heap}", "-XX:+AlwaysPreTouch"} <= set(driver_options)
    # The executors size their own heaps: nothing is fixed or touched there.
    assert "-XX:+AlwaysPreTouch" not in spec["sparkConf"]["spark.executor.extraJavaOptions"]
