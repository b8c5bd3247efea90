"""kubernetes/overlays/dev and prod: built with the pinned kustomize, every object valid, each overlay's own.

Core objects are checked against the Kubernetes schemas (strict), the Spark Operator's against its CRDs.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from smartspaces.manifests import render_manifests
from smartspaces.read_api_manifests import data_docs_claim, read_api_objects, spark_driver_objects
from smartspaces.stack.go_tools import go_tool
from tests.unit.manifest_schemas import CRD_FILES, KUBERNETES_VERSION, errors_of

REPO_ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = REPO_ROOT / "kubernetes" / "overlays"
NAMESPACES = {"dev": "smartspaces-dev", "prod": "smartspaces"}
DIGEST_REFERENCE = r"^[a-z0-9.-]+\.azurecr\.io/smartspaces@sha256:[0-9a-f]{64}$"


@cache
def built(overlay: str) -> tuple[dict[str, Any], ...]:
    """The overlay's objects as `kustomize build` prints them."""
    output = subprocess.run(
        [str(go_tool("kustomize")), "build", str(OVERLAYS / overlay)], capture_output=True, text=True, check=True
    ).stdout
    return tuple(document for document in yaml.safe_load_all(output) if document)


def images(document: dict[str, Any]) -> list[str]:
    spec = document.get("spec", {})
    if document["kind"] == "SparkApplication":
        return [spec["image"]]
    if document["kind"] == "ScheduledSparkApplication":
        return [spec["template"]["image"]]
    if document["kind"] == "Deployment":
        return [container["image"] for container in spec["template"]["spec"]["containers"]]
    return []


def one(objects: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    (found,) = [document for document in objects if document["kind"] == kind]
    return found


def test_there_are_exactly_the_two_overlays() -> None:
    assert sorted(path.name for path in OVERLAYS.iterdir()) == sorted(NAMESPACES)


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_each_overlay_builds_every_rendered_object_valid_in_its_namespace(overlay: str) -> None:
    objects = built(overlay)
    rendered = [
        *(yaml.safe_load(text) for text in render_manifests().values()),
        *read_api_objects(),
        *spark_driver_objects(),
        data_docs_claim(),
    ]
    identity = sorted((document["kind"], document["metadata"]["name"]) for document in objects)
    assert identity == sorted((document["kind"], document["metadata"]["name"]) for document in rendered)
    for document in objects:
        assert document["metadata"]["namespace"] == NAMESPACES[overlay], document["metadata"]["name"]
        if document["kind"] in CRD_FILES:
            assert errors_of(document) == [], document["metadata"]["name"]
        else:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    binding = one(objects, "RoleBinding")
    assert {subject["namespace"] for subject in binding["subjects"]} == {NAMESPACES[overlay]}


def test_prod_runs_every_pod_from_the_image_by_digest_and_dev_by_tag() -> None:
    prod = [image for document in built("prod") for image in images(document)]
    dev = [image for document in built("dev") for image in images(document)]
    assert len(prod) == len(dev) == len(render_manifests()) + 1
    for image in prod:
        assert re.match(DIGEST_REFERENCE, image), image
    assert all("@sha256:" not in image and ":" in image for image in dev), dev


@pytest.mark.parametrize(("overlay", "replicas", "kept"), [("dev", 1, 0), ("prod", 3, 2)])
def test_the_read_api_scales_from_its_replicas_and_a_drain_keeps_fewer(overlay: str, replicas: int, kept: int) -> None:
    objects = built(overlay)
    assert one(objects, "Deployment")["spec"]["replicas"] == replicas
    assert one(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == replicas
    assert one(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == kept < replicas
