"""spark-operator/*.yaml: rendered from the pins, and valid against the Spark Operator's CRD schemas.

The CRDs are read in place from <repo>/../shared/spark-operator-crds (or $SMARTSPACES_CRD_DIR), never copied.
Every object schema that declares properties is closed (additionalProperties: false), as `kubeconform -strict`
does, so a misspelt key fails here instead of being pruned silently by the API server.
"""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator

from smartspaces.manifests import render_manifests

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = REPO_ROOT / "spark-operator"
CRD_DIR_VARIABLE = "SMARTSPACES_CRD_DIR"
CRD_FILES = {
    "SparkApplication": "sparkoperator.k8s.io_sparkapplications.yaml",
    "ScheduledSparkApplication": "sparkoperator.k8s.io_scheduledsparkapplications.yaml",
}
# Keywords whose value is one schema, or a list of schemas.
_SUBSCHEMA = ("items", "additionalProperties", "not")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def crd_dir() -> Path:
    return Path(os.environ.get(CRD_DIR_VARIABLE, REPO_ROOT.parent / "shared" / "spark-operator-crds"))


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of schema where objects with properties reject keys they do not declare."""
    schema = dict(schema)
    if "properties" in schema:
        schema["properties"] = {name: closed(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    for keyword in _SUBSCHEMA:
        if isinstance(schema.get(keyword), dict):
            schema[keyword] = closed(schema[keyword])
    for keyword in _SUBSCHEMA_LISTS:
        if keyword in schema:
            schema[keyword] = [closed(sub) for sub in schema[keyword]]
    return schema


@cache
def _validator(path: Path, api_version: str) -> Draft4Validator:
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    group = crd["spec"]["group"]
    served = [version for version in crd["spec"]["versions"] if version.get("served")]
    for version in served:
        if f"{group}/{version['name']}" == api_version:
            return Draft4Validator(closed(version["schema"]["openAPIV3Schema"]))
    names = [f"{group}/{version['name']}" for version in served]
    raise AssertionError(f"{api_version} is not a version {path.name} serves (it serves {names})")


def validator_for(document: dict[str, Any]) -> Draft4Validator:
    """The strict validator of the CRD for the document's kind and apiVersion; skips when the CRD is absent."""
    kind = document.get("kind")
    assert kind in CRD_FILES, f"no Spark Operator CRD defines kind {kind!r}"
    path = crd_dir() / CRD_FILES[kind]
    if not path.is_file():
        pytest.skip(f"Spark Operator CRD not found at {path} (set {CRD_DIR_VARIABLE}): manifests NOT validated")
    return _validator(path, document["apiVersion"])


def errors_of(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(path in the document, message) of every schema violation, sorted."""
    errors = validator_for(document).iter_errors(document)
    return sorted(("/".join(map(str, error.absolute_path)), error.message) for error in errors)


def manifest_files() -> list[Path]:
    return sorted(MANIFESTS.glob("*.yaml"))


def test_manifests_on_disk_are_the_ones_the_pins_render() -> None:
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in manifest_files()}
    rendered = render_manifests()
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
        "enrich.yaml": {"cosmos-account-key", "postgres-password"},
    }
    for name, text in render_manifests().items():
        spec = application_spec(yaml.safe_load(text))
        assert (name, pod_secrets(spec["driver"])) == (name, wanted[name])
        assert (name, pod_secrets(spec["executor"])) == (name, set())


def test_the_enrichment_writes_postgresql_as_the_writer_role() -> None:
    spec = application_spec(yaml.safe_load(render_manifests()["enrich.yaml"]))
    settings = {variable["name"]: variable.get("value") for variable in spec["driver"]["env"]}
    assert settings["SMARTSPACES__POSTGRES__USER"] == "reporting_writer"
