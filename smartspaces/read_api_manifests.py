"""Renders kubernetes/: the Spark executors' pod template (baked into the image), and the kustomize base in
kubernetes/base: read-api.yaml, the cache-aside read API as a Kubernetes service of its own; the Spark
drivers' ServiceAccounts and Role; the Data Docs' volume claim; spark-operator/ beside them. The overlays
kubernetes/overlays/dev and prod (written by hand) set the namespace, the image and the replicas.

A Deployment (two replicas at least, probes on /health/live and /health), its Service, a PodDisruptionBudget
that keeps one replica through node drains, a HorizontalPodAutoscaler on CPU, a NetworkPolicy that lets in
only the API's port and lets out only DNS, Cosmos DB's Cassandra port and Azure Cache for Redis's TLS port,
and a ServiceAccount without a mounted token (the API never talks to Kubernetes). The same image as the
jobs; the pod reads only the secrets the API uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from smartspaces.config import load_settings
from smartspaces.manifests import (
    DATA_DOCS_CLAIM,
    DRIVER_ROLE,
    JOB_SECRETS,
    NAMESPACE,
    RENDERED_MARK,
    driver_service_account,
    environment,
    executor_pod_template,
    image,
    kustomization,
    read_only_context,
    scratch_mount,
    scratch_volume,
)

HEADER = (
    f"{RENDERED_MARK}: do not edit by hand.\n"
    "# Deployed through kubernetes/overlays/<dev|prod> (kubectl apply -k): see README, Deploying to Azure.\n"
)
HEADER_IMAGE_FIELDS = (
    f"{RENDERED_MARK}: do not edit by hand.\n"
    "# kustomize's image fields of the Spark Operator's kinds, so an overlay's `images:` sets their image too.\n"
)
HEADER_TEMPLATE = (
    f"{RENDERED_MARK}: do not edit by hand.\n"
    "# The Spark executors' pod template (spark.kubernetes.executor.podTemplateFile), baked into the image.\n"
)
NAME = "smartspaces-api"


def _labels() -> dict[str, str]:
    # Built afresh for each use: a dict used twice would be dumped as a YAML alias.
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "smartspaces"}


def _selector() -> dict[str, dict[str, str]]:
    return {"matchLabels": {"app.kubernetes.io/name": NAME}}


def _metadata() -> dict[str, Any]:
    return {"name": NAME, "namespace": NAMESPACE, "labels": _labels()}


# The secrets the read API reads: Cassandra (its store), Redis (its cache), the API keys it checks.
API_SECRETS = ("SMARTSPACES__CASSANDRA__PASSWORD", "SMARTSPACES__REDIS__PASSWORD", "SMARTSPACES__API__KEYS")
REPLICAS_MIN, REPLICAS_MAX = 2, 6
# Cosmos DB for Apache Cassandra and Azure Cache for Redis (TLS) listen on these.
EGRESS_PORTS = ((10350, "TCP"), (6380, "TCP"))
# Pods (in any namespace) labelled so may call the API: the ingress controller, the websites' backends.
CLIENT_LABEL = {"smartspaces.io/read-api-client": "true"}


def _container(port: int) -> dict[str, Any]:
    return {
        "name": "read-api",
        "image": image(),
        "imagePullPolicy": "IfNotPresent",
        "command": ["smartspaces", "serve"],
        "env": environment(API_SECRETS),
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        # Liveness asks no store: a replica is never restarted because Cassandra is away. Readiness is /health:
        # 503 while Cassandra is down takes the replica out of the Service (Redis down is only degraded).
        "livenessProbe": {
            "httpGet": {"path": "/health/live", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": "/health", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 2,
        },
        "startupProbe": {
            "httpGet": {"path": "/health/live", "port": "http"},
            "periodSeconds": 2,
            "failureThreshold": 30,
        },
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "securityContext": read_only_context(),
        # Python and uvicorn write only temporary files.
        "volumeMounts": [scratch_mount()],
    }


def read_api_objects() -> list[dict[str, Any]]:
    port = load_settings("aks", environ={}).api.port
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(), "automountServiceAccountToken": False},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _metadata(),
            "spec": {
                "replicas": REPLICAS_MIN,
                "selector": _selector(),
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": _labels()},
                    "spec": {
                        "serviceAccountName": NAME,
                        "automountServiceAccountToken": False,
                        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [_container(port)],
                        "volumes": [scratch_volume("64Mi")],
                        # Replicas on different nodes where the cluster has them.
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "kubernetes.io/hostname",
                                "whenUnsatisfiable": "ScheduleAnyway",
                                "labelSelector": _selector(),
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata(),
            "spec": {
                "type": "ClusterIP",
                "selector": {"app.kubernetes.io/name": NAME},
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _metadata(),
            "spec": {"minAvailable": 1, "selector": _selector()},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": _metadata(),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
                "minReplicas": REPLICAS_MIN,
                "maxReplicas": REPLICAS_MAX,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                    }
                ],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _metadata(),
            "spec": {
                "podSelector": _selector(),
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": CLIENT_LABEL}}],
                        "ports": [{"port": port, "protocol": "TCP"}],
                    }
                ],
                "egress": [
                    {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                    {"ports": [{"port": number, "protocol": protocol} for number, protocol in EGRESS_PORTS]},
                ],
            },
        },
    ]


def render_read_api() -> str:
    return HEADER + yaml.safe_dump_all(read_api_objects(), sort_keys=False)


def data_docs_claim() -> dict[str, Any]:
    """The volume the nightly enrichment writes its Data Docs to (the cluster's default storage class)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": DATA_DOCS_CLAIM,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "smartspaces"},
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


# What Spark's driver does on Kubernetes (Spark's "Running on Kubernetes", RBAC): its executors' pods, and the
# services and config maps it creates for them; nothing outside the namespace, no secrets.
DRIVER_RULES = [
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["create", "get", "list", "watch", "delete", "deletecollection", "patch"],
    },
    {
        "apiGroups": [""],
        "resources": ["services", "configmaps"],
        "verbs": ["create", "get", "list", "delete", "deletecollection"],
    },
]


def spark_driver_objects() -> list[dict[str, Any]]:
    """A ServiceAccount per job (its driver's: the driver creates its executors through the Kubernetes API), the
    drivers' Role, and its binding to every job's account."""
    accounts = [driver_service_account(job) for job in JOB_SECRETS]
    part_of = {"app.kubernetes.io/part-of": "smartspaces"}
    return [
        *(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": NAMESPACE, "labels": dict(part_of)},
            }
            for name in accounts
        ),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": DRIVER_ROLE, "namespace": NAMESPACE, "labels": dict(part_of)},
            "rules": DRIVER_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": DRIVER_ROLE, "namespace": NAMESPACE, "labels": dict(part_of)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": DRIVER_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE} for name in accounts],
        },
    ]


# The kustomize base: what is deployed (the pod template is not: it is baked into the image), and the
# spark-operator/ folder beside it.
BASE = "base"
# Where kustomize's image transformer finds the image of the Spark Operator's kinds (it knows only core ones).
SPARK_IMAGE_FIELDS = "spark-application-images.yaml"


def spark_image_fields() -> dict[str, Any]:
    return {
        "images": [
            {"path": "spec/image", "kind": "SparkApplication"},
            {"path": "spec/template/image", "kind": "ScheduledSparkApplication"},
        ]
    }


def render_kubernetes() -> dict[str, str]:
    """Path under kubernetes/ -> text of every rendered file: the Spark executors' pod template, and the
    kustomize base (the read API, the Data Docs' volume claim, the Spark drivers' accounts, spark-operator/)."""
    base = {
        "read-api.yaml": render_read_api(),
        "data-docs.yaml": HEADER + yaml.safe_dump(data_docs_claim(), sort_keys=False),
        "spark-drivers.yaml": HEADER + yaml.safe_dump_all(spark_driver_objects(), sort_keys=False),
    }
    base[SPARK_IMAGE_FIELDS] = HEADER_IMAGE_FIELDS + yaml.safe_dump(spark_image_fields(), sort_keys=False)
    base["kustomization.yaml"] = kustomization(
        ["../../spark-operator", *(name for name in base if name != SPARK_IMAGE_FIELDS)],
        configurations=[SPARK_IMAGE_FIELDS],
    )
    return {
        "executor-pod-template.yaml": HEADER_TEMPLATE + yaml.safe_dump(executor_pod_template(), sort_keys=False),
        **{f"{BASE}/{name}": text for name, text in base.items()},
    }


def write_kubernetes(folder: Path) -> list[Path]:
    """Writes the rendered files under folder and removes rendered ones no longer rendered (not the overlays)."""
    rendered = render_kubernetes()
    for stale in sorted(folder.rglob("*.yaml")):
        name = stale.relative_to(folder).as_posix()
        if name not in rendered and stale.read_text(encoding="utf-8").startswith(RENDERED_MARK):
            stale.unlink()
    written = []
    for name, text in rendered.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
