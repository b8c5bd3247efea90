"""kubernetes/: rendered from the code, valid against the Kubernetes API's schemas, and locked down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from smartspaces.config import load_settings
from smartspaces.manifests import CLUSTER_SECURITY_CONF, DATA_DOCS_CLAIM, EXECUTOR_POD_TEMPLATE, render_manifests
from smartspaces.read_api_manifests import API_SECRETS, BASE, read_api_objects, render_kubernetes
from tests.unit.manifest_schemas import KUBERNETES_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]
FOLDER = REPO_ROOT / "kubernetes"
ON_DISK = FOLDER / BASE / "read-api.yaml"
# Written by hand, not rendered: the kustomize overlays (tests/unit/test_kustomize_overlays.py).
OVERLAYS = "overlays"


def by_kind() -> dict[str, dict[str, Any]]:
    return {document["kind"]: document for document in read_api_objects()}


def test_the_files_on_disk_are_the_ones_the_code_renders() -> None:
    on_disk = {
        path.relative_to(FOLDER).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(FOLDER.rglob("*.yaml"))
        if OVERLAYS not in path.relative_to(FOLDER).parts
    }
    assert on_disk == render_kubernetes(), "run `smartspaces manifests render`"


def test_the_executors_pod_template_is_a_valid_pod_without_a_service_account_token() -> None:
    template = yaml.safe_load(render_kubernetes()["executor-pod-template.yaml"])
    kubernetes_validate.validate(template, KUBERNETES_VERSION, strict=True)
    assert template["spec"]["automountServiceAccountToken"] is False


def test_spark_pods_run_on_a_read_only_root_and_write_only_to_their_volumes() -> None:
    template = yaml.safe_load(render_kubernetes()["executor-pod-template.yaml"])["spec"]
    (executor,) = template["containers"]
    assert executor["securityContext"]["readOnlyRootFilesystem"] is True
    assert [(v["name"], "emptyDir" in v) for v in template["volumes"]] == [("scratch", True)]
    assert executor["volumeMounts"] == [{"name": "scratch", "mountPath": "/tmp"}]
    for name, text in render_manifests().items():
        document = yaml.safe_load(text)
        spec = document["spec"]["template"] if document["kind"] == "ScheduledSparkApplication" else document["spec"]
        for role in ("driver", "executor"):
            assert spec[role]["securityContext"]["readOnlyRootFilesystem"] is True, (name, role)
            environment = {variable["name"]: variable.get("value") for variable in spec[role]["env"]}
            assert environment["HOME"] == "/tmp", (name, role)
        # The driver mounts the scratch volume the application declares; the executors get theirs from the
        # template, so the application must not declare a second one for them.
        declared = {volume["name"] for volume in spec["volumes"]}
        mounted = {mount["name"]: mount["mountPath"] for mount in spec["driver"]["volumeMounts"]}
        assert mounted["scratch"] == "/tmp" and set(mounted) == declared, name
        assert "volumeMounts" not in spec["executor"], name


def test_every_spark_application_authenticates_encrypts_and_uses_the_template_the_image_holds() -> None:
    for name, text in render_manifests().items():
        document = yaml.safe_load(text)
        spec = document["spec"]["template"] if document["kind"] == "ScheduledSparkApplication" else document["spec"]
        assert CLUSTER_SECURITY_CONF.items() <= spec["sparkConf"].items(), name
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY kubernetes ./kubernetes" in dockerfile
    assert EXECUTOR_POD_TEMPLATE == "/opt/smartspaces/kubernetes/executor-pod-template.yaml"


@pytest.mark.parametrize("document", read_api_objects(), ids=lambda document: document["kind"])
def test_each_object_is_valid_against_the_kubernetes_schemas_strictly(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_is_caught_by_the_strict_validation() -> None:
    deployment = by_kind()["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/health"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_api_runs_locked_down_with_only_its_secrets() -> None:
    objects = by_kind()
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is False
    assert objects["ServiceAccount"]["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    secrets = {v["name"] for v in container["env"] if "valueFrom" in v}
    assert (
        secrets
        == set(API_SECRETS)
        == {
            "SMARTSPACES__CASSANDRA__PASSWORD",
            "SMARTSPACES__REDIS__PASSWORD",
            "SMARTSPACES__API__KEYS",
        }
    )
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    # Never fewer than the budget keeps through a drain, and the autoscaler starts where the Deployment does.
    assert objects["PodDisruptionBudget"]["spec"]["minAvailable"] < objects["Deployment"]["spec"]["replicas"]
    assert objects["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == objects["Deployment"]["spec"]["replicas"]
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert {port["port"] for rule in policy["egress"] for port in rule["ports"]} == {53, 10350, 6380}


def test_the_rendered_file_parses_to_the_same_objects() -> None:
    assert list(yaml.safe_load_all(ON_DISK.read_text(encoding="utf-8"))) == read_api_objects()


def test_the_enrichment_writes_its_data_docs_to_a_claim_mounted_where_the_aks_settings_say() -> None:
    claim = yaml.safe_load(render_kubernetes()[f"{BASE}/data-docs.yaml"])
    kubernetes_validate.validate(claim, KUBERNETES_VERSION, strict=True)
    assert claim["metadata"]["name"] == DATA_DOCS_CLAIM
    spec = yaml.safe_load(render_manifests()["enrich.yaml"])["spec"]["template"]
    (volume,) = [volume for volume in spec["volumes"] if "persistentVolumeClaim" in volume]
    assert volume["persistentVolumeClaim"]["claimName"] == DATA_DOCS_CLAIM
    (mount,) = [mount for mount in spec["driver"]["volumeMounts"] if mount["name"] == volume["name"]]
    assert (mount["name"], mount["mountPath"]) == (
        volume["name"],
        str(load_settings("aks", environ={}).enrichment.quality.data_docs_dir),
    )
    # The image's user (185) can write to it.
    assert spec["driver"]["podSecurityContext"] == {"fsGroup": 185}


def test_each_job_drives_its_executors_as_its_own_account_bound_to_the_drivers_role_only() -> None:
    objects = list(yaml.safe_load_all(render_kubernetes()[f"{BASE}/spark-drivers.yaml"]))
    for document in objects:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    accounts = {d["metadata"]["name"] for d in objects if d["kind"] == "ServiceAccount"}
    (binding,) = [d for d in objects if d["kind"] == "RoleBinding"]
    (role,) = [d for d in objects if d["kind"] == "Role"]
    assert {subject["name"] for subject in binding["subjects"]} == accounts
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    # Pods, services and config maps of its namespace: no secrets, nothing cluster-wide.
    assert {resource for rule in role["rules"] for resource in rule["resources"]} == {"pods", "services", "configmaps"}
    drivers = set()
    for text in render_manifests().values():
        document = yaml.safe_load(text)
        spec = document["spec"]["template"] if document["kind"] == "ScheduledSparkApplication" else document["spec"]
        drivers.add(spec["driver"]["serviceAccount"])
    assert drivers == accounts
    assert len(accounts) == len(render_manifests())
