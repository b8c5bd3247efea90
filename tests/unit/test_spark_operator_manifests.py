"""spark-operator/*.yaml: rendered from the pins, and valid against the Spark Operator's CRD schemas.

The CRDs are read in place from ../shared/spark-operator-crds (or $SMARTSPACES_CRD_DIR), never copied.
Objects that declare properties are closed (additionalProperties: false), as `kubeconform -strict` does,
so a misspelt key fails here instead of being pruned silently by the API server.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator

from smartspaces.config import PROJECT_ROOT
from smartspaces.manifests import render_manifests

MANIFESTS = PROJECT_ROOT / "spark-operator"
CRD_FILES = {
    "SparkApplication": "sparkoperator.k8s.io_sparkapplications.yaml",
    "ScheduledSparkApplication": "sparkoperator.k8s.io_scheduledsparkapplications.yaml",
}


def crd_dir() -> Path:
    return Path(os.environ.get("SMARTSPACES_CRD_DIR", PROJECT_ROOT.parent / "shared" / "spark-operator-crds"))


def strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def validator_for(kind: str, api_version: str) -> Draft4Validator:
    path = crd_dir() / CRD_FILES[kind]
    if not path.is_file():
        pytest.skip(f"Spark Operator CRDs not found at {path}: manifests were NOT validated")
    crd = yaml.safe_load(path.read_text())
    group = crd["spec"]["group"]
    for version in crd["spec"]["versions"]:
        if f"{group}/{version['name']}" == api_version and version.get("served", True):
            return Draft4Validator(strict(version["schema"]["openAPIV3Schema"]))
    raise AssertionError(f"{kind} {api_version} is not served by the CRD in {path}")


def errors_of(document: dict[str, Any]) -> list[str]:
    validator = validator_for(document["kind"], document["apiVersion"])
    return sorted(
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)
    )


def committed() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(MANIFESTS.glob("*.yaml"))}


def test_committed_manifests_are_the_rendered_ones() -> None:
    assert committed() == render_manifests(), "spark-operator/ is stale: run `smartspaces manifests render`"


@pytest.mark.parametrize("name", sorted(render_manifests()))
def test_manifest_is_valid_against_the_crd(name: str) -> None:
    documents = [doc for doc in yaml.safe_load_all((MANIFESTS / name).read_text()) if doc]
    assert documents, f"{name} holds no document"
    for document in documents:
        assert errors_of(document) == []


def test_the_validator_reports_what_a_broken_manifest_gets_wrong() -> None:
    broken = copy.deepcopy(yaml.safe_load(render_manifests()["smoke.yaml"]))
    broken["spec"]["driver"]["coress"] = 1
    broken["spec"]["mode"] = "batch"
    broken["spec"]["sparkConf"]["spark.executor.instances"] = 2
    del broken["spec"]["sparkVersion"]
    problems = "\n".join(errors_of(broken))
    assert "'coress' was unexpected" in problems
    assert "spec.mode: 'batch' is not one of ['cluster', 'client']" in problems
    assert "spec.sparkConf.spark.executor.instances: 2 is not of type 'string'" in problems
    assert "'sparkVersion' is a required property" in problems
