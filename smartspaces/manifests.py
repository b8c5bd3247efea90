"""Renders the Spark Operator SparkApplication manifests from the pins, so their versions cannot drift."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from smartspaces.pins import load_pins

HEADER = (
    "# Rendered by `smartspaces manifests render` from smartspaces/pins: do not edit by hand.\n"
    "# kubectl apply -f this file; the image is built by the Dockerfile (see README, Kubernetes).\n"
)
IMAGE_REPOSITORY = "smartspaces"
APP_ROOT = "/opt/smartspaces"
SECRET_NAME = "smartspaces-secrets"
# Environment variable → key in the Kubernetes secret.
SECRETS = {
    "SMARTSPACES__KAFKA__SASL_PASSWORD": "eventhubs-connection-string",
    "SMARTSPACES__CASSANDRA__PASSWORD": "cosmos-account-key",
    "SMARTSPACES__POSTGRES__PASSWORD": "postgres-password",
    "SMARTSPACES__REDIS__PASSWORD": "redis-access-key",
}
# The hardened security context of the operator's own examples (uid 185 is the Spark images' user).
SECURITY_CONTEXT = {
    "runAsUser": 185,
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _environment() -> list[dict[str, Any]]:
    return [{"name": "SMARTSPACES_ENV", "value": "aks"}] + [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": key, "optional": False}}}
        for name, key in SECRETS.items()
    ]


def _pod(cores: int, memory: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "cores": cores,
        "memory": memory,
        "labels": {"app.kubernetes.io/part-of": "smartspaces"},
        "env": _environment(),
        "securityContext": SECURITY_CONTEXT,
        **extra,
    }


def spark_application(name: str, job: str, arguments: list[str], restart: str = "OnFailure") -> dict[str, Any]:
    """A SparkApplication that runs jobs/<job>.py from the project image with the aks configuration."""
    pins = load_pins()
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": name, "namespace": "smartspaces", "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "type": "Python",
            "pythonVersion": "3",
            "mode": "cluster",
            "image": f"{IMAGE_REPOSITORY}:{metadata.version('smartspaces')}",
            "imagePullPolicy": "IfNotPresent",
            "mainApplicationFile": f"local://{APP_ROOT}/jobs/{job}.py",
            "arguments": arguments,
            "sparkVersion": pins.spark_version,
            "sparkConf": {
                # The connectors are baked into the image; nothing is resolved when the pods start.
                "spark.sql.session.timeZone": "UTC",
                "spark.kubernetes.executor.deleteOnTermination": "true",
            },
            "restartPolicy": {
                "type": restart,
                "onFailureRetries": 3,
                "onFailureRetryInterval": 30,
                "onSubmissionFailureRetries": 3,
                "onSubmissionFailureRetryInterval": 30,
            },
            "driver": _pod(1, "1g", {"serviceAccount": "spark-operator-spark"}),
            "executor": _pod(1, "2g", {"instances": 1}),
        },
    }


def render_manifests() -> dict[str, str]:
    """File name → YAML text of every manifest in spark-operator/."""
    applications = {
        "smoke.yaml": spark_application("smartspaces-smoke", "smoke", []),
        # The stream runs for good: the operator restarts it, and its checkpoint resumes where it stopped.
        "ingest.yaml": spark_application("smartspaces-ingest", "ingest", [], restart="Always"),
    }
    return {
        name: HEADER + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        for name, document in applications.items()
    }


def write_manifests(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_manifests().items():
        (folder / name).write_text(text)
        written.append(folder / name)
    return written
