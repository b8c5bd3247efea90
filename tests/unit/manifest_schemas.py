"""The schemas rendered manifests must satisfy: the Kubernetes version of the core objects, and the Spark
Operator's CRD schemas, read in place, as strict validators of SparkApplication documents.

The CRDs are read from <repo>/../shared/spark-operator-crds (or $SMARTSPACES_CRD_DIR), never copied. Every object
schema that declares properties is closed (additionalProperties: false), as `kubeconform -strict` does, so a
misspelt key fails instead of being pruned silently by the API server.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator

REPO_ROOT = Path(__file__).resolve().parents[2]
# The Kubernetes version whose schemas the core objects must satisfy (AKS's supported versions include it).
KUBERNETES_VERSION = "1.31"
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
