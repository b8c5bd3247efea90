"""Typed platform configuration: conf/<env>.yaml plus SMARTSPACES__SECTION__KEY environment overrides.

Secrets (passwords, connection strings) are never read from the YAML files: a secret key found in a
file is an error. They come from the environment (locally) or from Kubernetes secrets mapped into it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from smartspaces.cassandra_tables import EVENTS

ENV_PREFIX = "SMARTSPACES__"
ENV_NAME_VARIABLE = "SMARTSPACES_ENV"
CONF_DIR_VARIABLE = "SMARTSPACES_CONF_DIR"
DEFAULT_ENV = "local"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

Port = Annotated[int, Field(ge=1, le=65535)]
MemorySize = Annotated[str, Field(pattern=r"^[0-9]+[kKmMgG]$")]
MASK = "**********"
# Keys that hold credentials (Spark's own redaction pattern, widened for Kafka's JAAS config and Azure's account
# keys, SAS tokens and OAuth client secrets). In the free-form option maps such a key is refused in a file and its
# value masked wherever settings are printed; the session gives Spark the same pattern (spark.redaction.regex).
SECRET_LOOKING_KEY = re.compile(
    r"secret|passw(or)?d|token|credential|jaas|account[._-]?key|access[._-]?key|sas\b", re.I
)


def masked_options(options: dict[str, str]) -> dict[str, str]:
    return {key: MASK if SECRET_LOOKING_KEY.search(key) else value for key, value in options.items()}


# A map of client or Spark options: printed (as JSON) with the values of secret-looking keys masked.
Options = Annotated[dict[str, str], PlainSerializer(masked_options, when_used="json")]
# The free-form maps whose secret-looking keys must come from the environment.
_OPTION_MAPS = (
    ("spark", "extra_conf"),
    ("kafka", "client_options"),
    ("cassandra", "connector"),
    ("cassandra", "connector_one_row_partitions"),
)


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the key."""


class _Section(BaseModel):
    # extra="forbid": a misspelt key fails at start-up instead of being ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkSettings(_Section):
    # None: leave the master to spark-submit (the Spark Operator sets it on Kubernetes).
    master: str | None
    driver_memory: MemorySize | None = None
    # "auto": twice the machine's cores, enough to keep every core busy with small shuffles.
    shuffle_partitions: int | Literal["auto"] = "auto"
    # True: the connectors are resolved once per pin set (Spark's own resolver, into ivy_cache_dir) and sessions
    # start with them as spark.jars. False: they are already on the classpath (baked into the image).
    resolve_packages: bool = True
    ivy_cache_dir: Path | None = None
    ui_enabled: bool = True
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "WARN"
    extra_conf: Options = Field(default_factory=dict)

    @field_validator("shuffle_partitions")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be a positive integer or 'auto'")
        return value


ABFSS_ROOT = re.compile(r"^abfss://[^@/]+@(?P<account>[a-z0-9]{3,24})\.dfs\.core\.windows\.net(/.*)?$")


class LakeSettings(_Section):
    # A local path or an abfss:// URL: Delta tables live below it.
    root: str
    # How Spark signs in to an abfss:// lake (ADLS Gen2): managed_identity (the pods' or nodes' identity,
    # client_id naming a user-assigned one), service_principal (tenant_id, client_id and the secret
    # SMARTSPACES__LAKE__CLIENT_SECRET), account_key (SMARTSPACES__LAKE__ACCOUNT_KEY), or none (a local lake).
    auth: Literal["none", "managed_identity", "service_principal", "account_key"] = "none"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    account_key: SecretStr | None = None

    @property
    def storage_account(self) -> str | None:
        """The storage account of an abfss:// root."""
        match = ABFSS_ROOT.match(self.root)
        return match.group("account") if match else None

    @model_validator(mode="after")
    def _auth_is_complete(self) -> LakeSettings:
        if self.auth == "none":
            return self
        if self.storage_account is None:
            raise ValueError(
                f"lake.auth {self.auth} needs lake.root abfss://<container>@<account>.dfs.core.windows.net/..."
            )
        needed = {
            "service_principal": ("tenant_id", "client_id", "client_secret"),
            "account_key": ("account_key",),
            "managed_identity": (),
        }[self.auth]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"lake.auth {self.auth} needs " + ", ".join(f"lake.{name}" for name in missing))
        return self


# Kafka client options that would turn off (or loosen) the check of the broker's certificate and host name.
KAFKA_IDENTITY_OPTIONS = ("ssl.endpoint.identification.algorithm", "enable.ssl.certificate.verification")
# The security protocols that run over TLS.
KAFKA_TLS_PROTOCOLS = ("SSL", "SASL_SSL")


class KafkaSettings(_Section):
    bootstrap_servers: str
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # The PLAIN login module; Databricks shades it under kafkashaded.
    login_module: str = "org.apache.kafka.common.security.plain.PlainLoginModule"
    # The CA certificates (PEM) that verify the broker's certificate over SSL and SASL_SSL, for librdkafka and the
    # JVM client alike. None: the system's (Event Hubs' certificates chain to a public root).
    ssl_ca_location: Path | None = None
    # Extra consumer/producer options, passed to Spark as kafka.<key>.
    client_options: Options = Field(default_factory=dict)

    @field_validator("client_options")
    @classmethod
    def _identity_check_stays_on(cls, options: dict[str, str]) -> dict[str, str]:
        turned = sorted(key for key in options if key.lower() in KAFKA_IDENTITY_OPTIONS)
        if turned:
            raise ValueError(
                f"kafka.client_options may not set {', '.join(turned)}: the broker's certificate and host name are "
                "always checked (kafka.ssl_ca_location names the CA of a private broker)"
            )
        return options


def _single_node_replication() -> dict[str, str | int]:
    return {"class": "SimpleStrategy", "replication_factor": 1}


class CassandraSettings(_Section):
    host: str
    port: Port = 9042
    local_dc: str = "datacenter1"
    keyspace: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    replication: dict[str, str | int] = Field(default_factory=lambda: _single_node_replication())
    ssl: bool = False
    # With ssl, the node's certificate is always verified and must name cassandra.host, by both clients; these are
    # the CA certificates (PEM) it is checked against (None: the system's, as for Cosmos DB).
    ssl_ca_certs: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    # Reads and writes of both clients: a quorum of the local data centre, so what one job wrote (a commit
    # marker, a checkpoint, a rule state) is what the next one reads, whichever replica answers.
    consistency: Literal["LOCAL_QUORUM", "LOCAL_ONE", "QUORUM", "ONE"] = "LOCAL_QUORUM"
    # spark.cassandra.* connector settings (without the prefix), e.g. output.concurrent.writes.
    connector: Options = Field(default_factory=dict)
    # Connector settings over `connector` for writes to a table of one row per partition (event_ids), which
    # batches grouped by partition would send row by row.
    connector_one_row_partitions: Options = Field(default_factory=dict)


class PostgresSettings(_Section):
    host: str
    port: Port = 5432
    database: str
    user: str
    password: SecretStr | None = None
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    # The CA certificates (PEM) verify-ca and verify-full check the server's certificate against, for psycopg and
    # JDBC alike. None: libpq's default (~/.postgresql/root.crt).
    sslrootcert: Path | None = None
    # Every connection gives up after these: a server that does not answer is an error naming it, never a hang.
    connect_timeout_s: int = Field(default=10, ge=1)
    # A JDBC read or write waiting this long for the server's answer fails (a batch of rows takes well under).
    socket_timeout_s: int = Field(default=600, ge=1)
    # The window swap waits at most this long for another run's swap (the reporting lock) before it gives up.
    lock_timeout_s: int = Field(default=300, ge=1)
    # A swap whose server went away (a restart, a failover) waits this long for it to answer again, then finishes
    # its transaction once on a new connection. Azure's failovers take one to two minutes.
    reconnect_wait_s: int = Field(default=180, ge=1)


class MysqlSettings(_Section):
    """A MySQL (or MariaDB) database the reference job can read its drop from (`--source mysql`)."""

    host: str
    port: Port = 3306
    database: str
    user: str
    password: SecretStr | None = None
    # Connector/J's sslMode: VERIFY_IDENTITY checks the certificate and the host name (PostgreSQL's verify-full).
    ssl_mode: Literal["DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"] = "PREFERRED"
    connect_timeout_s: int = Field(default=10, ge=1)
    socket_timeout_s: int = Field(default=600, ge=1)


class RedisSettings(_Section):
    host: str
    port: Port = 6379
    db: int = Field(default=0, ge=0)
    ssl: bool = False
    # With ssl, the server's certificate is always verified and must name redis.host; these are the CA
    # certificates (PEM) it is checked against (None: the system's trust store, as for Azure Cache for Redis).
    ssl_ca_certs: Path | None = None
    ssl_check_hostname: bool = True
    # An ACL user (`smartspaces redis-acl ROLE` prints the rule it needs); None: the default user.
    username: str | None = None
    password: SecretStr | None = None
    # Short timeouts: a slow cache must fall back to Cassandra, not stall a request.
    socket_timeout_s: float = Field(default=0.5, gt=0)


class IngestSettings(_Section):
    """The streaming ingest: where events come from, how fast, and what counts as bad input."""

    topic: str = "events"
    # Partitions of the topic when the ingest has to create it (one device's events stay in one partition).
    topic_partitions: int = Field(default=3, ge=1)
    max_offsets_per_trigger: int = Field(default=100_000, ge=1)
    trigger_interval_s: float = Field(default=1.0, gt=0)
    # The bronze archive is its own query on the topic, off the critical path: larger, rarer Delta commits.
    bronze_trigger_interval_s: float = Field(default=10.0, gt=0)
    # Each micro-batch stages its quarantined messages; they move into the quarantine's Delta table this often.
    quarantine_flush_interval_s: float = Field(default=10.0, gt=0)
    starting_offsets: Literal["earliest", "latest"] = "earliest"
    max_payload_bytes: int = Field(default=16_384, ge=256)
    max_future_skew_s: int = Field(default=300, ge=0)
    max_lateness_s: int = Field(default=7 * 24 * 3600, ge=60)


class ChangeFeedSettings(_Section):
    """The change-feed processor: where changes come from, how often, and who is reading."""

    # cassandra: the change log the ingest writes (open-source Cassandra, the local default).
    # cosmos: Cosmos DB's native change-feed query (Azure Cosmos DB for Apache Cassandra).
    backend: Literal["cassandra", "cosmos"] = "cassandra"
    # The lease name: each consumer keeps its own checkpoints.
    consumer: str = Field(default="critical-events", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    # One process per consumer: its lease lasts this long unless renewed (a crashed process's lease expires
    # after it), and a second process waits this long for the lease before it ends with a message.
    lease_s: float = Field(default=15.0, gt=0)
    lease_wait_s: float = Field(default=30.0, ge=0)
    # How often an idle change feed polls for new changes (a backlog is read at once).
    interval_s: float = Field(default=0.25, gt=0)
    # Most ingest batches (cassandra) or pages (cosmos) one micro-batch takes.
    max_batches_per_trigger: int = Field(default=50, ge=1)
    # A change-log micro-batch of at most this many changes is read with the Python driver (the hot path's
    # few hundred, in milliseconds); a larger backlog is read by the Spark connector. The driver's rows travel
    # inside one task, about 100 bytes each: 8000 keep it under the 1000 KiB Spark warns about (20 000 made
    # every stage of the demo's change feed warn "a task of very large size").
    driver_read_max_rows: int = Field(default=8_000, ge=0)
    # Critical-event rules: a CSV of versioned rules (reference data), a local path or an abfss:// URL.
    rules_file: str
    # Alarm rules (docs/alarms.md): a YAML file, local path or abfss:// URL; None: no alarms.
    alarm_rules_file: str | None = None
    # How far the live alarm watermark trails event time: events this late still count before a device is
    # declared silent or a door left open.
    alarm_grace_s: float = Field(default=60.0, ge=0)
    # The table whose changes the cosmos backend reads, and its page size.
    cosmos_table: str = EVENTS.name
    cosmos_page_size: int = Field(default=5000, ge=1)


class CacheSettings(_Section):
    """The Redis cache: how long entries live and how much of each list it keeps."""

    critical_per_space: int = Field(default=50, ge=1)
    critical_ttl_s: int = Field(default=24 * 3600, ge=1)
    latest_ttl_s: int = Field(default=24 * 3600, ge=1)
    # The batch warm-up loads this many hours of critical events.
    warmup_hours: int = Field(default=24, ge=1)


class ApiSettings(_Section):
    """The cache-aside read API."""

    host: str = "127.0.0.1"
    port: Port = 8080
    # After Redis fails, skip it for this long, so each request does not wait for its timeout again.
    redis_retry_after_s: float = Field(default=5.0, ge=0)
    # How often the web page refreshes.
    page_refresh_s: float = Field(default=5.0, gt=0)
    # The API's clients: `name:scopes:sha256-of-key` entries separated by commas, scopes `read` and `acknowledge`
    # joined by `+` (environment or a Kubernetes secret only; `smartspaces api-key NAME` makes one).
    keys: SecretStr | None = None
    # Reads of data need a key with the read scope. Off on the laptop only, where the pages read anonymously;
    # acknowledging always needs a key.
    require_key: bool = True
    # Per client (its key's name, or its address when anonymous): requests a second, and the burst allowed.
    rate_limit_per_s: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)
    # An id the registry did not know is answered 404 without a query for this long (and at most this many).
    unknown_id_ttl_s: float = Field(default=30.0, ge=0)
    unknown_ids_max: int = Field(default=100_000, ge=1)
    # Cassandra reads in flight per process; beyond it a request is answered 503 at once.
    max_store_reads: int = Field(default=64, ge=1)
    # The interactive OpenAPI docs (/docs, /redoc, /openapi.json): on the laptop only.
    docs: bool = False
    # How many of a space's alarms `?state=all` returns, newest raised first.
    alarm_history_limit: int = Field(default=100, ge=1, le=1000)


class ComfortBands(_Section):
    """What counts as comfortable in an occupied hour (the hour's average reading)."""

    temperature_low_c: float = 20.0
    temperature_high_c: float = 24.0
    co2_max_ppm: float = 1000.0


class QualitySettings(_Section):
    """The Great Expectations gate on the enriched data before it is written."""

    # An expectation not listed fails the run; "warn" records it and lets the write go on.
    severity: dict[str, Literal["fail", "warn"]] = Field(default_factory=dict)
    # Rows of each fact against the previous comparable window (same length, just before): allowed ratio.
    row_count_min_ratio: float = Field(default=0.5, ge=0)
    row_count_max_ratio: float = Field(default=2.0, gt=0)
    # The newest event of the window may be at most this long before the window's end (or now, if earlier).
    freshness_max_lag_h: float = Field(default=6.0, gt=0)
    # A table of at most this many rows is checked in the driver's Python (GX's pandas engine: one Spark job,
    # about 200 bytes of the driver per row); a larger one in Spark (some ten jobs), so that the driver's
    # memory stays bounded, however long the window. A week of 286 spaces has 161 784 hourly rows.
    driver_rows: int = Field(default=250_000, ge=0)
    # Data Docs (HTML) of each run go below this folder (a local path).
    data_docs_dir: Path


class EnrichmentSettings(_Section):
    """The batch enrichment: its calendar, its comfort bands, its quality gate and its reporting store."""

    # Days, hours and "yesterday" are taken in this time zone (an IANA name).
    time_zone: str = "Europe/Amsterdam"
    comfort: ComfortBands = Field(default_factory=ComfortBands)
    quality: QualitySettings
    # The reporting store's COPY writer: connections (one per Spark partition) copying at once.
    write_connections: int = Field(default=2, ge=1)
    # The enrichment's driver heap, fixed at its size when the JVM starts (smartspaces/stages/enrichment/memory.py):
    # locally its session starts the JVM with it; on Kubernetes the manifest renders it. None: spark.driver_memory.
    driver_memory: MemorySize | None = None

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class StackSettings(_Section):
    """The local stack's own settings (only the local environment has one)."""

    data_dir: Path
    # Every server as Azure runs it (conf/secure.yaml): TLS only, with certificates of the stack's CA, and passwords
    # (made by the stack, kept in <data_dir>/secrets, given to jobs by `smartspaces exec`).
    secure: bool = False
    # The servers' jars (None: <data_dir>/jars); stacks of several environments can share one download.
    jars_dir: Path | None = None
    # The broker's own PLAINTEXT listener, when the clients use the SASL_SSL one (None: kafka.bootstrap_servers').
    kafka_broker_port: Port | None = None
    kafka_controller_port: Port = 9093
    # A SASL_SSL listener (TLS with a certificate of the stack's CA, PLAIN, user $ConnectionString): the Event Hubs
    # code path on loopback.
    kafka_sasl_port: Port = 9094
    kafka_heap: MemorySize = "512m"
    cassandra_storage_port: Port = 7000
    cassandra_heap: MemorySize = "1g"
    start_timeout_s: float = Field(default=240, gt=0)
    # The Spark standalone cluster of `smartspaces cluster up`: a master and its workers, one JVM each. Worker n
    # listens on the master's ports + n. The master's web UI is not on 8080, the read API's port.
    spark_master_port: Port = 7077
    spark_master_ui_port: Port = 8180
    spark_workers: int = Field(default=2, ge=1, le=9)
    spark_worker_cores: int = Field(default=1, ge=1)
    # What a worker offers its executors (an executor takes spark.executor.memory, 1g by default, of it).
    spark_worker_memory: MemorySize = "2g"
    # The heap of the master and of each worker: they only schedule; the work is in the executors' JVMs.
    spark_daemon_heap: MemorySize = "256m"


class Settings(_Section):
    environment: str
    spark: SparkSettings
    lake: LakeSettings
    kafka: KafkaSettings
    cassandra: CassandraSettings
    postgres: PostgresSettings
    redis: RedisSettings
    # Optional: only the reference job's MySQL source uses it.
    mysql: MysqlSettings | None = None
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    changefeed: ChangeFeedSettings
    cache: CacheSettings = Field(default_factory=CacheSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    enrichment: EnrichmentSettings
    stack: StackSettings | None = None

    @model_validator(mode="after")
    def _clients_of_a_secure_stack_check_it(self) -> Settings:
        """A secure stack serves TLS and passwords only: every client must use them and check the server."""
        if self.stack is None or not self.stack.secure:
            return self
        needed = {
            "kafka.security_protocol: SASL_SSL": self.kafka.security_protocol == "SASL_SSL",
            "cassandra.ssl: true": self.cassandra.ssl,
            "cassandra.username": bool(self.cassandra.username),
            "postgres.sslmode: verify-full": self.postgres.sslmode == "verify-full",
            "redis.ssl: true": self.redis.ssl,
            "redis.username": bool(self.redis.username),
        }
        missing = [setting for setting, present in needed.items() if not present]
        if missing:
            raise ValueError("stack.secure needs " + ", ".join(missing))
        return self


# Keys that hold secrets: accepted from the environment only.
SECRET_KEYS = frozenset(
    {
        ("kafka", "sasl_password"),
        ("cassandra", "password"),
        ("postgres", "password"),
        ("redis", "password"),
        ("mysql", "password"),
        ("lake", "client_secret"),
        ("lake", "account_key"),
        ("api", "keys"),
    }
)
# Relative paths in a file are taken from the folder above conf/, so every command sees the same folders.
_PATH_KEYS = (
    ("spark", "ivy_cache_dir"),
    ("stack", "data_dir"),
    ("stack", "jars_dir"),
    ("lake", "root"),
    ("changefeed", "rules_file"),
    ("postgres", "sslrootcert"),
    ("redis", "ssl_ca_certs"),
    ("kafka", "ssl_ca_location"),
    ("cassandra", "ssl_ca_certs"),
)
_NESTED_PATH_KEYS = (("enrichment", "quality", "data_docs_dir"),)


def conf_dir() -> Path:
    return Path(os.environ.get(CONF_DIR_VARIABLE, PROJECT_ROOT / "conf"))


def load_settings(
    environment: str | None = None,
    environ: Mapping[str, str] | None = None,
    directory: Path | None = None,
) -> Settings:
    """Loads and validates conf/<environment>.yaml with environment overrides; raises ConfigError."""
    environ = os.environ if environ is None else environ
    environment = environment or environ.get(ENV_NAME_VARIABLE, DEFAULT_ENV)
    path = (directory or conf_dir()) / f"{environment}.yaml"
    raw = _read_layers(path.parent, environment, ())
    raw.setdefault("environment", environment)
    sources = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX):
            keys = _keys_of_variable(name)
            # Secrets and options stay strings; other values are YAML scalars, so 9042 is a number and true a bool.
            as_written = tuple(keys) in SECRET_KEYS or _is_option(keys) or not value
            parsed = value if as_written else yaml.safe_load(value)
            _set_nested(raw, keys, parsed, name)
            sources[tuple(keys)] = name
    _resolve_paths(raw, root=path.parent.parent)
    try:
        return Settings.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, path, sources)) from None


def _keys_of_variable(variable: str) -> list[str]:
    """SMARTSPACES__SECTION__KEY[__...] → its keys. Sections and keys are matched in lower case; an option of a
    free-form map (_OPTION_MAPS) keeps its case, since its client reads it so: Spark's settings are
    case-sensitive (`spark.eventLog.enabled`), and a lower-cased one would be a setting Spark never reads."""
    parts = variable[len(ENV_PREFIX) :].split("__")
    keys = [part.lower() for part in parts]
    if _is_option(keys):
        return [*keys[:2], "__".join(parts[2:])]
    return keys


def _is_option(keys: list[str]) -> bool:
    """Whether the keys name one option of a free-form map, rather than a section, a key or a whole map."""
    return len(keys) > 2 and (keys[0], keys[1]) in _OPTION_MAPS


# A file may name the environment it builds on (`extends: local`): its sections are merged over that one's, key
# by key.
EXTENDS_KEY = "extends"


def _read_layers(directory: Path, environment: str, seen: tuple[str, ...]) -> dict[str, Any]:
    """conf/<environment>.yaml merged over the files it extends, each checked for secrets."""
    path = directory / f"{environment}.yaml"
    if not path.is_file():
        raise ConfigError(f"no configuration for environment {environment!r}: {path} does not exist")
    if environment in seen:
        raise ConfigError(f"{path}: '{EXTENDS_KEY}' goes round in a circle ({' -> '.join((*seen, environment))})")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    _refuse_secrets_in_file(raw, path)
    base = raw.pop(EXTENDS_KEY, None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise ConfigError(f"{path}: '{EXTENDS_KEY}' names one environment (got {base!r})")
    return _merged(_read_layers(directory, base, (*seen, environment)), raw)


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """base with over's values in place of its own; mappings are merged key by key."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _refuse_secrets_in_file(raw: dict[str, Any], path: Path) -> None:
    for section, key in SECRET_KEYS:
        if key in (raw.get(section) or {}):
            raise ConfigError(
                f"{path}: {section}.{key} is a secret and must not be in a file; "
                f"set {ENV_PREFIX}{section.upper()}__{key.upper()} in the environment"
            )
    for section, key in _OPTION_MAPS:
        options = (raw.get(section) or {}).get(key) if isinstance(raw.get(section), dict) else None
        for option in options or {}:
            if SECRET_LOOKING_KEY.search(str(option)):
                raise ConfigError(
                    f"{path}: {section}.{key}.{option} looks like a secret and must not be in a file; "
                    f"set {ENV_PREFIX}{section.upper()}__{key.upper()}__{option} in the environment"
                )


def _set_nested(raw: dict[str, Any], keys: list[str], value: Any, variable: str) -> None:
    node = raw
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{variable}: {'.'.join(keys)} goes below a value that is not a section")
        node = child
    node[keys[-1]] = value


def _resolve_paths(raw: dict[str, Any], root: Path) -> None:
    for section, key in _PATH_KEYS:
        node = raw.get(section)
        if isinstance(node, dict) and isinstance(node.get(key), str) and "://" not in node[key]:
            node[key] = str(root / node[key])
    for section, subsection, key in _NESTED_PATH_KEYS:
        node = (raw.get(section) or {}).get(subsection) if isinstance(raw.get(section), dict) else None
        if isinstance(node, dict) and isinstance(node.get(key), str) and "://" not in node[key]:
            node[key] = str(root / node[key])


def _describe(error: ValidationError, path: Path, sources: dict[tuple[str, ...], str]) -> str:
    lines = [f"invalid configuration in {path}:"]
    for problem in error.errors():
        location = tuple(str(part) for part in problem["loc"])
        key = ".".join(location)
        origin = next((f" (from {var})" for keys, var in sources.items() if keys == location[: len(keys)]), "")
        if problem["type"] == "missing":
            lines.append(f"  {key}: missing{origin}")
        elif problem["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key{origin}")
        elif not location:
            # A check of the settings as a whole: its message names the keys.
            lines.append(f"  {problem['msg'].removeprefix('Value error, ')}")
        elif location[:2] in SECRET_KEYS or isinstance(problem.get("input"), dict):
            # A whole section's check: its input holds every key of the section, secrets included.
            lines.append(f"  {key}: {problem['msg']}{origin}")
        else:
            lines.append(f"  {key}: {problem['msg']} (got {problem.get('input')!r}){origin}")
    return "\n".join(lines)
