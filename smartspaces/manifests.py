"""Renders the Spark Operator SparkApplication manifests (spark-operator/*.yaml) from the pins.

Spark's version comes from smartspaces/pins and the image tag from the installed project's version, so a
pin change shows up here (and in the test that compares spark-operator/ with this rendering).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import yaml

from smartspaces.config import load_settings
from smartspaces.pins import load_pins
from smartspaces.session import HOSTNAME_VALIDATION_CONF, MALLOC_ARENAS, batch_jvm_conf, with_overrides

# The first words of every file `smartspaces manifests render` writes: what it may replace or remove.
RENDERED_MARK = "# Rendered by `smartspaces manifests render`"
HEADER = (
    f"{RENDERED_MARK} from smartspaces/pins: do not edit by hand.\n"
    "# Deployed through kubernetes/overlays/<dev|prod> (kubectl apply -k), from the Dockerfile's image (see README,\n"
    "# Deploying to Azure).\n"
)
API_VERSION = "sparkoperator.k8s.io/v1beta2"
NAMESPACE = "smartspaces"
IMAGE_REPOSITORY = "smartspaces"
# Where the Dockerfile puts the project in the image.
APP_ROOT = "/opt/smartspaces"
# Each job's driver runs as a ServiceAccount of its own (kubernetes/base/spark-drivers.yaml), bound to a Role that
# allows only what a Spark driver does in the namespace: its executor pods, their services and config maps.
DRIVER_ROLE = "smartspaces-spark-driver"


def mebibytes(size: str) -> int:
    """A JVM memory size (512m, 1g) in MiB."""
    number, unit = int(size[:-1]), size[-1].lower()
    return {"k": number // 1024, "m": number, "g": number * 1024}[unit]


def driver_service_account(job: str) -> str:
    return f"smartspaces-{job.replace('_', '-')}-driver"


SECRET_NAME = "smartspaces-secrets"
# Every job's driver heap (spark.driver.memory); the pod adds its memory overhead to it.
DRIVER_HEAP = "1g"
# The enrichment's driver pod holds its JVM, within the driver's peak RSS target (heap and the rest;
# bench/results/enrich.json: driver_peak_rss_mb), and the job's Python process beside it (about 332 MiB at
# their joint peak, measured locally: driver_jvm_and_python_peak_rss_mb less driver_peak_rss_mb; the quality
# gate's tables in the driver are bounded by enrichment.quality.driver_rows).
ENRICH_DRIVER_JVM_MIB = 1536
ENRICH_DRIVER_PYTHON_MIB = 384
RestartPolicy = Literal["Never", "Always", "OnFailure"]
# Environment variable the config reads → key in the Kubernetes secret.
SECRETS = {
    "SMARTSPACES__KAFKA__SASL_PASSWORD": "eventhubs-connection-string",
    "SMARTSPACES__CASSANDRA__PASSWORD": "cosmos-account-key",
    "SMARTSPACES__POSTGRES__PASSWORD": "postgres-password",
    "SMARTSPACES__REDIS__PASSWORD": "redis-access-key",
    # The read API's keys (kubernetes/base/read-api.yaml); no job reads them.
    "SMARTSPACES__API__KEYS": "api-keys",
}
# The secrets each job's driver reads, and no other: a job's pods never hold a credential it does not use. The
# executors get none: what their tasks connect with travels in the tasks themselves (Spark's conf for the
# Cassandra connector, the Kafka source's options, the settings a Python task closes over), never in their
# environment. The reference job as rendered reads a files drop; `--source jdbc` adds the PostgreSQL password.
JOB_SECRETS = {
    "smoke": (
        "SMARTSPACES__KAFKA__SASL_PASSWORD",
        "SMARTSPACES__CASSANDRA__PASSWORD",
        "SMARTSPACES__POSTGRES__PASSWORD",
        "SMARTSPACES__REDIS__PASSWORD",
    ),
    "ingest": ("SMARTSPACES__KAFKA__SASL_PASSWORD", "SMARTSPACES__CASSANDRA__PASSWORD"),
    "changefeed": ("SMARTSPACES__CASSANDRA__PASSWORD", "SMARTSPACES__REDIS__PASSWORD"),
    "cache_warmup": ("SMARTSPACES__CASSANDRA__PASSWORD", "SMARTSPACES__REDIS__PASSWORD"),
    "reference": ("SMARTSPACES__CASSANDRA__PASSWORD",),
    "enrich": ("SMARTSPACES__CASSANDRA__PASSWORD", "SMARTSPACES__POSTGRES__PASSWORD"),
}
# Where a job's secret is another key than SECRETS': the enrichment only reads Cosmos DB, with the account's
# read-only key (the local secure stack's smartspaces_reader). The read API keeps the read-write key: an
# acknowledgement updates two alarm tables, and Cosmos DB grants no narrower key.
JOB_SECRET_KEYS: dict[str, dict[str, str]] = {
    "enrich": {"SMARTSPACES__CASSANDRA__PASSWORD": "cosmos-read-only-key"},
}


# Where the image holds the executors' pod template (the Dockerfile copies kubernetes/ there).
EXECUTOR_POD_TEMPLATE = f"{APP_ROOT}/kubernetes/executor-pod-template.yaml"
EXECUTOR_CONTAINER = "executor"
# The driver and its executors authenticate each other (Spark generates the shared secret on Kubernetes and
# hands it to the executors) and encrypt their RPC and block transfers. Executors run from a pod template
# without a service account token: they never call the Kubernetes API, only the driver does.
CLUSTER_SECURITY_CONF = {
    "spark.authenticate": "true",
    "spark.network.crypto.enabled": "true",
    "spark.kubernetes.executor.podTemplateFile": EXECUTOR_POD_TEMPLATE,
    "spark.kubernetes.executor.podTemplateContainerName": EXECUTOR_CONTAINER,
}


# Spark's pods run with a read-only root file system. What they write goes to volumes: Spark's own local dirs
# (an emptyDir Spark mounts for spark.local.dir), the Data Docs' claim, and SCRATCH, an emptyDir at /tmp for
# the JVM's and Python's temporary files, also HOME, so no library writes into the image.
SCRATCH_VOLUME, SCRATCH_PATH, SCRATCH_SIZE = "scratch", "/tmp", "2Gi"


def scratch_volume(size: str = SCRATCH_SIZE) -> dict[str, Any]:
    return {"name": SCRATCH_VOLUME, "emptyDir": {"sizeLimit": size}}


def scratch_mount() -> dict[str, Any]:
    return {"name": SCRATCH_VOLUME, "mountPath": SCRATCH_PATH}


def read_only_context() -> dict[str, Any]:
    return {**security_context(), "readOnlyRootFilesystem": True}


def executor_pod_template() -> dict[str, Any]:
    """The executors' pod template: Spark fills in the container's image, command and resources. Its scratch
    volume is here, not in the SparkApplication: Spark merges a template itself, without the operator's
    webhook, and the volume must be declared only once."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": {"app.kubernetes.io/part-of": "smartspaces"}},
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": EXECUTOR_CONTAINER,
                    "securityContext": read_only_context(),
                    "volumeMounts": [scratch_mount()],
                }
            ],
            "volumes": [scratch_volume()],
        },
    }


def image() -> str:
    """The project's image, tagged with the installed project's version (the Dockerfile builds it)."""
    return f"{IMAGE_REPOSITORY}:{metadata.version('smartspaces')}"


def security_context() -> dict[str, Any]:
    """The hardened container context of the operator's examples (uid/gid 185 is the Spark images' user)."""
    return {
        "runAsUser": 185,
        "runAsGroup": 185,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def environment(secrets: tuple[str, ...], keys: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """SMARTSPACES_ENV=aks plus the given secrets, from the Kubernetes secret (never from a file); keys: the secret's
    key of a variable where it is not SECRETS'."""
    key_of = {**SECRETS, **(keys or {})}
    from_secret = [
        {
            "name": variable,
            "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": key_of[variable], "optional": False}},
        }
        for variable in secrets
    ]
    return [{"name": "SMARTSPACES_ENV", "value": "aks"}, *from_secret]


def _pod(
    cores: int,
    memory: str,
    secrets: tuple[str, ...],
    settings: dict[str, str] | None = None,
    secret_keys: Mapping[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    # Built afresh for each pod: a dict shared by driver and executor would be dumped as a YAML alias.
    overrides = [{"name": name, "value": value} for name, value in (settings or {}).items()]
    writable = [
        {"name": "HOME", "value": SCRATCH_PATH},
        # The image's packages are compiled when installed; nothing tries to write their bytecode again.
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    ]
    return {
        "cores": cores,
        "memory": memory,
        "labels": {"app.kubernetes.io/part-of": "smartspaces"},
        "env": [
            *environment(secrets, secret_keys),
            *overrides,
            {"name": "MALLOC_ARENA_MAX", "value": MALLOC_ARENAS},
            *writable,
        ],
        "securityContext": read_only_context(),
        **extra,
    }


def _spark_application(
    name: str,
    job: str,
    restart: RestartPolicy,
    driver_heap: str = DRIVER_HEAP,
    driver_overhead: str | None = None,
    spark_conf: dict[str, str] | None = None,
    arguments: list[str] | None = None,
    driver_settings: dict[str, str] | None = None,
    driver_claim: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A SparkApplication that runs jobs/<job>.py from the project image with the aks configuration.

    driver_heap: the driver's heap (spark.driver.memory).
    driver_overhead: the driver pod's memory beyond its heap (Spark's default: a tenth, at least 384 MiB).
    spark_conf: the job's own Spark settings, beside the platform's.
    arguments: the job's command line.
    driver_settings: SMARTSPACES__ overrides of the aks configuration for this job's driver.
    driver_claim: (persistent volume claim, mount path) the driver writes to; the pod's group owns the volume."""
    # The executors' scratch volume comes with their pod template (executor_pod_template).
    volumes = [scratch_volume()]
    driver_mounts = [scratch_mount()]
    driver_volume: dict[str, Any] = {}
    if driver_claim:
        volumes.append({"name": "driver-volume", "persistentVolumeClaim": {"claimName": driver_claim[0]}})
        driver_mounts.append({"name": "driver-volume", "mountPath": driver_claim[1]})
        # The Spark image's user (185) writes there: the volume is given to its group.
        driver_volume = {"podSecurityContext": {"fsGroup": 185}}
    return {
        "apiVersion": API_VERSION,
        "kind": "SparkApplication",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "type": "Python",
            "pythonVersion": "3",
            "mode": "cluster",
            "image": image(),
            "imagePullPolicy": "IfNotPresent",
            "mainApplicationFile": f"local://{APP_ROOT}/jobs/{job}.py",
            **({"arguments": arguments} if arguments else {}),
            "sparkVersion": load_pins().spark_version,
            # The connectors are baked into the image: nothing is resolved when the pods start.
            "sparkConf": {
                "spark.sql.session.timeZone": "UTC",
                "spark.kubernetes.executor.deleteOnTermination": "true",
                **CLUSTER_SECURITY_CONF,
                # The JVM options every session has (the Cassandra driver's host-name check): spark-submit starts
                # the driver's JVM before the session is built.
                **with_overrides(HOSTNAME_VALIDATION_CONF, spark_conf or {}),
            },
            "restartPolicy": {
                "type": restart,
                "onFailureRetries": 3,
                "onFailureRetryInterval": 30,
                "onSubmissionFailureRetries": 3,
                "onSubmissionFailureRetryInterval": 30,
            },
            "volumes": volumes,
            "driver": _pod(
                1,
                driver_heap,
                JOB_SECRETS[job],
                driver_settings,
                secret_keys=JOB_SECRET_KEYS.get(job),
                serviceAccount=driver_service_account(job),
                volumeMounts=driver_mounts,
                **({"memoryOverhead": driver_overhead} if driver_overhead else {}),
                **driver_volume,
            ),
            "executor": _pod(1, "2g", (), instances=1),
        },
    }


def _scheduled_application(
    name: str, job: str, schedule: str, time_zone: str, **application_options: Any
) -> dict[str, Any]:
    """A ScheduledSparkApplication running jobs/<job>.py on a cron schedule, one run at a time."""
    application = _spark_application(name, job, restart="OnFailure", **application_options)
    return {
        **application,
        "kind": "ScheduledSparkApplication",
        "spec": {
            "schedule": schedule,
            "timeZone": time_zone,
            # A late run must finish before the next starts: two runs of one window would only repeat work.
            "concurrencyPolicy": "Forbid",
            "successfulRunHistoryLimit": 3,
            "failedRunHistoryLimit": 3,
            "template": application["spec"],
        },
    }


# The quality gate's Data Docs outlive a run: a claim of their own (kubernetes/base/data-docs.yaml), mounted by the
# enrichment's driver at enrichment.quality.data_docs_dir of the aks configuration.
DATA_DOCS_CLAIM = "smartspaces-data-docs"


def render_manifests() -> dict[str, str]:
    """File name → YAML text of every manifest in spark-operator/."""
    aks = load_settings("aks", environ={})
    aks_time_zone = aks.enrichment.time_zone
    enrich_heap = aks.enrichment.driver_memory or DRIVER_HEAP
    applications = {
        "smoke.yaml": _spark_application("smartspaces-smoke", "smoke", restart="OnFailure"),
        # The stream runs for good: the operator restarts it, and its checkpoint resumes where it stopped.
        "ingest.yaml": _spark_application("smartspaces-ingest", "ingest", restart="Always"),
        # Micro-batches for good; its checkpoints live in Cassandra, so a restart resumes.
        "changefeed.yaml": _spark_application("smartspaces-changefeed", "changefeed", restart="Always"),
        "cache-warmup.yaml": _spark_application("smartspaces-cache-warmup", "cache_warmup", restart="OnFailure"),
        # Each new reference drop is merged once; a failed merge changes nothing and is retried.
        "reference.yaml": _spark_application("smartspaces-reference", "reference", restart="OnFailure"),
        # Every night after midnight in the campus's zone: yesterday's facts, and those of any recent day that
        # missed its night or received late events since it was written (--catch-up).
        # Its driver pod: the heap of the aks configuration (it plans, gates a few hundred thousand fact rows and
        # collects nothing that grows with events; the executors read and copy), reserved and touched when the
        # JVM starts, the rest of the JVM's 1.5 GiB for its classes, code, threads and buffers, and the job's
        # Python process. Locally the driver also runs the tasks on the same heap and stays within the 1.5 GiB.
        "enrich.yaml": _scheduled_application(
            "smartspaces-enrich",
            "enrich",
            "30 2 * * *",
            aks_time_zone,
            driver_heap=enrich_heap,
            driver_overhead=f"{ENRICH_DRIVER_JVM_MIB + ENRICH_DRIVER_PYTHON_MIB - mebibytes(enrich_heap)}m",
            spark_conf=batch_jvm_conf(enrich_heap),
            arguments=["--catch-up"],
            # The role with exactly the grants of the window write (migration V0007), not the schema's owner.
            driver_settings={"SMARTSPACES__POSTGRES__USER": "reporting_writer"},
            driver_claim=(DATA_DOCS_CLAIM, str(aks.enrichment.quality.data_docs_dir)),
        ),
    }
    return {name: HEADER + yaml.safe_dump(document, sort_keys=False) for name, document in applications.items()}


KUSTOMIZATION = "kustomization.yaml"
KUSTOMIZE_HEADER = (
    f"{RENDERED_MARK}: do not edit by hand. A kustomize base of what is rendered\n"
    "# beside it; kubernetes/overlays/dev and kubernetes/overlays/prod build on it (see README, Deploying to Azure).\n"
)


def kustomization(resources: list[str], **fields: Any) -> str:
    """A kustomization.yaml listing resources (files or folders with a kustomization of their own)."""
    document = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
        **fields,
    }
    return KUSTOMIZE_HEADER + yaml.safe_dump(document, sort_keys=False)


def render_spark_operator() -> dict[str, str]:
    """File name → text of every file in spark-operator/: the manifests, and their kustomization."""
    manifests = render_manifests()
    return {**manifests, KUSTOMIZATION: kustomization(list(manifests))}


def write_manifests(folder: Path) -> list[Path]:
    """Writes spark-operator/'s files into folder and removes rendered ones that are no longer rendered."""
    folder.mkdir(parents=True, exist_ok=True)
    rendered = render_spark_operator()
    for stale in sorted(folder.glob("*.yaml")):
        if stale.name not in rendered and stale.read_text(encoding="utf-8").startswith(RENDERED_MARK):
            stale.unlink()
    written = []
    for name, text in rendered.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
