"""Builds the one SparkSession of a process from validated settings."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from smartspaces import python_daemon
from smartspaces.class_archive import archive_java_options, existing_archive
from smartspaces.config import SECRET_LOOKING_KEY, CassandraSettings, ConfigError, Settings
from smartspaces.connectors.abfs import abfs_conf
from smartspaces.logs import log4j2_java_option
from smartspaces.pins import load_pins
from smartspaces.project_jar import session_jars

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

SPARK_EXTENSIONS = (
    "io.delta.sql.DeltaSparkSessionExtension",
    "com.datastax.spark.connector.CassandraSparkExtensions",
)
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
CASSANDRA_CATALOG = "com.datastax.spark.connector.datasource.CassandraCatalog"
# Tables can be named cassandra.<keyspace>.<table> in Spark SQL.
CASSANDRA_CATALOG_NAME = "cassandra"
JAVA_OPTIONS_KEYS = ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")
# The Spark connector turns the Java driver's host-name check off (its DefaultConnectionFactory sets
# advanced.ssl-engine-factory.hostname-validation to false). The driver reads JVM system properties over the
# connector's settings, so this option of every Spark JVM turns it back on: over TLS, the node's certificate must
# name the host the connector dialled, or the password is never sent.
HOSTNAME_VALIDATION_JAVA_OPTION = "-Ddatastax-java-driver.advanced.ssl-engine-factory.hostname-validation=true"
HOSTNAME_VALIDATION_CONF = dict.fromkeys(JAVA_OPTIONS_KEYS, HOSTNAME_VALIDATION_JAVA_OPTION)
# Hadoop's local file system (the lake on a laptop, the streams' checkpoints, the Delta logs) as the project's
# classes (smartspaces/jvm/smartspaces/hadoop): without Hadoop's native library, its own starts a chmod or a
# readlink process for each file a micro-batch writes or renames (docs/hot-path.md, profile 11).
LOCAL_FILE_SYSTEM_CONF = {
    "spark.hadoop.fs.file.impl": "smartspaces.hadoop.NioLocalFileSystem",
    "spark.hadoop.fs.AbstractFileSystem.file.impl": "smartspaces.hadoop.NioLocalFs",
}
# Settings whose value is a list, by separator: an override (spark.extra_conf, a job's settings) adds to the
# platform's list instead of replacing it, and wins where both set the same JVM property.
LIST_SETTINGS = {**dict.fromkeys(JAVA_OPTIONS_KEYS, " "), "spark.jars": ","}
# A local session's driver binds to loopback, like the local stack (Spark would otherwise pick the first
# non-loopback interface and warn that the hostname resolves to a loopback address).
LOCAL_IP = "127.0.0.1"
# glibc malloc arenas of a Spark JVM (its default is 8 per core), here and in the pods.
MALLOC_ARENAS = "2"
# The JVMs of a batch job (the enrichment) run the throughput collector: a batch job has no pause target to
# keep, and this collector grows the heap only as far as the work needs. Measured on the enrichment of 1 M
# events (local, 1 GiB heap): the driver's peak RSS 1 226 MiB against 1 544 MiB with G1, whose heap went to
# its maximum and whose own structures took 82 MiB against 47.
BATCH_JVM_OPTIONS = "-XX:+UseParallelGC"


def batch_jvm_conf(driver_heap: str | None) -> dict[str, str]:
    """A batch job's JVM options, its driver's heap fixed at driver_heap (when given) as its JVM starts.

    -Xms as -Xmx with -XX:+AlwaysPreTouch: the heap is reserved and touched at once. The parallel collector
    otherwise grows it as a run goes on, so the driver's footprint depended on how long the run lasted (the
    enrichment of 1 M events ended before its heap reached where 10 M events took it), and a pod too small for
    it would fail hours into a run rather than as it starts (docs/enrichment.md, Memory).
    """
    conf = dict.fromkeys(JAVA_OPTIONS_KEYS, BATCH_JVM_OPTIONS)
    if driver_heap is not None:
        conf["spark.driver.extraJavaOptions"] += f" -Xms{driver_heap} -XX:+AlwaysPreTouch"
    return conf


# Streaming micro-batches of a few hundred rows, every second: what costs is Spark's fixed work per query, not
# the rows. Profiled on the hot path (2 cores): generating and compiling code for each new micro-batch plan
# (Spark strips comments from every generated class with a backtracking regex, in every task, before its
# code cache is even asked) took a quarter of the ingest's CPU, and adaptive execution turns each exchange
# and broadcast into a job of its own. Interpreting a few hundred rows costs less than either.
MICRO_BATCH_CONF = {
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


def shuffle_partitions(settings: Settings) -> int:
    configured = settings.spark.shuffle_partitions
    return 2 * (os.cpu_count() or 1) if configured == "auto" else configured


# The connector offers only RSA key exchange with CBC ciphers unless told (its default enabledAlgorithms), which a
# node with an EC certificate refuses and which has no forward secrecy: TLS 1.3's suites and TLS 1.2's ECDHE ones
# with GCM, for RSA certificates (Cosmos DB's) and EC ones (the local stack's) alike.
CASSANDRA_TLS_CIPHER_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
)


def cassandra_conf(cassandra: CassandraSettings) -> dict[str, str]:
    """The spark.cassandra.* settings: connection, SSL, auth and connector tuning."""
    conf = {
        "spark.cassandra.connection.host": cassandra.host,
        "spark.cassandra.connection.port": str(cassandra.port),
        "spark.cassandra.connection.localDC": cassandra.local_dc,
        "spark.cassandra.input.consistency.level": cassandra.consistency,
        "spark.cassandra.output.consistency.level": cassandra.consistency,
        "spark.cassandra.connection.ssl.enabled": str(cassandra.ssl).lower(),
    }
    if cassandra.ssl:
        conf["spark.cassandra.connection.ssl.enabledAlgorithms"] = ",".join(CASSANDRA_TLS_CIPHER_SUITES)
    if cassandra.ssl and cassandra.ssl_ca_certs:
        # The Java driver reads a key store; the Python driver the PEM file itself.
        conf["spark.cassandra.connection.ssl.trustStore.path"] = str(java_truststore_path(cassandra.ssl_ca_certs))
    if cassandra.username:
        conf["spark.cassandra.auth.username"] = cassandra.username
    if cassandra.password:
        conf["spark.cassandra.auth.password"] = cassandra.password.get_secret_value()
    conf.update({f"spark.cassandra.{key}": value for key, value in cassandra.connector.items()})
    return conf


def with_overrides(conf: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """conf updated with overrides, except that lists (jars, JVM options) are appended to instead of replaced."""
    merged = {**conf, **overrides}
    for key, separator in LIST_SETTINGS.items():
        if key in conf and key in overrides:
            merged[key] = f"{conf[key]}{separator}{overrides[key]}"
    return merged


def java_truststore_path(ca_certificates: Path) -> Path:
    """Where the session keeps the PEM file's certificates as a Java trust store: in the temporary folder (the
    pods' scratch volume; the PEM file's own may be read-only), one file per content."""
    digest = hashlib.sha256(ca_certificates.read_bytes()).hexdigest()[:16] if ca_certificates.exists() else "absent"
    return Path(tempfile.gettempdir()) / "smartspaces-truststores" / f"{ca_certificates.stem}-{digest}.p12"


def write_java_truststore(cassandra: CassandraSettings) -> None:
    """Writes the trust store cassandra_conf names, if the settings name CA certificates."""
    if not (cassandra.ssl and cassandra.ssl_ca_certs):
        return
    if not cassandra.ssl_ca_certs.is_file():
        raise ConfigError(f"cassandra.ssl_ca_certs: {cassandra.ssl_ca_certs} does not exist")
    path = java_truststore_path(cassandra.ssl_ca_certs)
    if not path.exists():
        from smartspaces.stack.certificates import java_truststore

        path.parent.mkdir(parents=True, exist_ok=True)
        java_truststore(cassandra.ssl_ca_certs, path)


def connector_conf(settings: Settings) -> dict[str, str]:
    """The settings of the Delta and Cassandra connectors: their extensions, catalogs and connection."""
    return {
        **HOSTNAME_VALIDATION_CONF,
        "spark.sql.extensions": ",".join(SPARK_EXTENSIONS),
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        f"spark.sql.catalog.{CASSANDRA_CATALOG_NAME}": CASSANDRA_CATALOG,
        **cassandra_conf(settings.cassandra),
    }


def spark_conf(settings: Settings, app_name: str, with_connectors: bool = True) -> dict[str, str]:
    """Every Spark setting the session is built with (pure: a test can check it without a JVM).

    with_connectors False: a plain Spark (no Delta, Cassandra or Kafka), for work on DataFrames alone."""
    spark = settings.spark
    conf = {
        "spark.app.name": app_name,
        **(connector_conf(settings) if with_connectors else {}),
        "spark.sql.shuffle.partitions": str(shuffle_partitions(settings)),
        # Event times are stored and compared in UTC whatever the machine's zone.
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": str(spark.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        # Jobs of concurrent streaming queries share the cores instead of queueing behind each other (the
        # ingest's archive query must never delay its store query).
        "spark.scheduler.mode": "FAIR",
        # Python workers that do not re-read Spark's archives before every task (smartspaces.python_daemon).
        "spark.python.daemon.module": python_daemon.__name__,
        # The settings' own pattern of credentials (Spark's, widened): the UI and the event log mask such keys.
        "spark.redaction.regex": f"(?i){SECRET_LOOKING_KEY.pattern}",
        **abfs_conf(settings.lake),
    }
    if spark.master:
        conf["spark.master"] = spark.master
    if spark.driver_memory:
        conf["spark.driver.memory"] = spark.driver_memory
    return with_overrides(conf, spark.extra_conf)


def jvm_launch_conf(
    jars: Sequence[Path], class_archive: Path | None = None, executors_here: bool = False
) -> dict[str, str]:
    """The settings that count only when the session starts its JVM (not under spark-submit, which has started it).

    jars: local jars for the classpath (the resolved connectors). Spark logs with the platform's log4j2
    configuration: warnings about the run, not its start-up chatter. class_archive: the driver's class-data
    archive (smartspaces.class_archive), mapped by the driver's JVM, and by the executors' when they run on this
    machine (executors_here: `smartspaces cluster up`'s start with the driver's classpath, so they can map it;
    a local session's are in the driver). Where the executors are here, the jars are `local:` ones and the
    local file system is the project's (LOCAL_FILE_SYSTEM_CONF, its classes in the last jar)."""
    conf = dict.fromkeys(JAVA_OPTIONS_KEYS, log4j2_java_option())
    if class_archive is not None:
        for key in JAVA_OPTIONS_KEYS if executors_here else ("spark.driver.extraJavaOptions",):
            conf[key] += f" {archive_java_options(class_archive)}"
    if jars and executors_here:
        # SparkSubmit looks a file path up through Hadoop's file system before the jars are on the classpath,
        # which fails when that file system is a class of theirs; a `local:` jar it takes as it is.
        conf["spark.jars"] = ",".join(f"local:{jar}" for jar in jars)
        conf.update(LOCAL_FILE_SYSTEM_CONF)
    elif jars:
        conf["spark.jars"] = ",".join(str(jar) for jar in jars)
    return conf


def check_pyspark_version() -> None:
    """Fails early when the installed pyspark is not the pinned one: the connector jars are built for it."""
    pinned = load_pins().spark_version
    installed = metadata.version("pyspark")
    if installed != pinned:
        raise ConfigError(f"pyspark {installed} is installed but {pinned} is pinned: run `make install`")


def executors_on_this_machine(master: str | None) -> bool:
    """True for local mode and for a standalone cluster on loopback (`smartspaces cluster up`): the executors
    see this machine's files and interpreters. False for a master spark-submit chooses, or a remote one."""
    if master is None:
        return False
    return master.startswith("local") or urlsplit(master).hostname in (LOCAL_IP, "localhost")


def job_overrides(settings: Settings, job_conf: Mapping[str, str] | None) -> dict[str, str]:
    """A job's settings, but those the environment's spark.extra_conf sets: an operator's choice wins."""
    return {key: value for key, value in (job_conf or {}).items() if key not in settings.spark.extra_conf}


@contextmanager
def runtime_conf(spark: SparkSession, conf: Mapping[str, str]) -> Iterator[None]:
    """The session's settings set to conf's for the block, then restored (unset if they were). A setting the
    session refuses at run time (fixed when the JVM started: memory, JVM options) is left as it is."""
    from pyspark.errors import AnalysisException

    previous: dict[str, str | None] = {}
    for key, value in conf.items():
        was = spark.conf.get(key, None)
        try:
            spark.conf.set(key, value)
        except AnalysisException:
            continue
        previous[key] = was
    try:
        yield
    finally:
        for key, was in previous.items():
            if was is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, was)


def build_spark_session(
    settings: Settings, app_name: str, job_conf: Mapping[str, str] | None = None, with_connectors: bool = True
) -> SparkSession:
    """Returns the process's SparkSession, creating it from the settings if none is active.

    job_conf: settings a job needs for the shape of its work (below the environment's spark.extra_conf,
    which an operator can always use to override them). with_connectors False: no connector jars, a lean
    Spark for work on DataFrames alone (the unit tests)."""
    from pyspark.sql import SparkSession

    check_pyspark_version()
    if executors_on_this_machine(settings.spark.master):
        # Python workers run the driver's interpreter, so they see the same installed packages
        # (PySpark reads only this variable when it starts a session in-process; a cluster's executors are
        # told the driver's choice with each Python function).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", LOCAL_IP)
        # The JVM inherits this: glibc would give each of its many threads (tasks, Netty, the Cassandra
        # driver) an arena of its own, and the process's memory would grow with threads, not with work.
        os.environ.setdefault("MALLOC_ARENA_MAX", MALLOC_ARENAS)
    conf = spark_conf(settings, app_name, with_connectors)
    if with_connectors:
        write_java_truststore(settings.cassandra)
    # Under spark-submit the JVM is already running, with the classpath and options spark-submit gave it.
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        jars = session_jars(settings.spark) if settings.spark.resolve_packages and with_connectors else []
        # Without resolved packages the jars are the image's and no archive was built for them.
        archive = existing_archive(settings.spark) if settings.spark.resolve_packages else None
        executors_here = executors_on_this_machine(settings.spark.master)
        conf = with_overrides(jvm_launch_conf(jars, archive, executors_here), conf)
    builder = SparkSession.builder
    for key, value in with_overrides(conf, job_overrides(settings, job_conf)).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(settings.spark.log_level)
    import_short_names(session)
    return session


# The JVM classes PySpark names by their short name on every call: `functions` for each column function (F.col,
# F.when, ...), PythonUtils for each list it hands over. py4j resolves a short name against the gateway's
# wildcard imports in turn, and each package that lacks the class costs a search of every jar on the class
# path (the connectors' included); a class imported by its full name is found at once. Profiled on the change
# feed: building one micro-batch's plan looked `functions` up 347 times and PythonUtils 74 times.
SHORT_NAMED_JVM_CLASSES = ("org.apache.spark.sql.functions", "org.apache.spark.api.python.PythonUtils")


def import_short_names(spark: SparkSession) -> None:
    """Imports SHORT_NAMED_JVM_CLASSES into the session's py4j view of the JVM, and keeps their methods once
    looked up (each a round trip that took longer than F.col's own call: docs/hot-path.md, profile 14).
    Idempotent."""
    from py4j.java_gateway import java_import  # type: ignore[import-untyped]

    from smartspaces.connectors.jvm import keep_method_lookups

    view = spark.sparkContext._jvm
    if view is not None:
        for name in SHORT_NAMED_JVM_CLASSES:
            java_import(view, name)
        keep_method_lookups(spark, [name.rsplit(".", 1)[1] for name in SHORT_NAMED_JVM_CLASSES])


@contextmanager
def spark_session(
    settings: Settings, app_name: str, job_conf: Mapping[str, str] | None = None
) -> Iterator[SparkSession]:
    """The active session if there is one (a notebook's, a test's), else a new one stopped on exit. An active
    session runs the job with the job_conf it can take at run time (SQL settings, not the JVM's), restored
    after, so a job in a notebook or a test runs its queries as it does under spark-submit."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        with runtime_conf(active, job_overrides(settings, job_conf)):
            yield active
        return
    session = build_spark_session(settings, app_name, job_conf)
    try:
        yield session
    finally:
        session.stop()


@contextmanager
def persisted(frame: DataFrame) -> Iterator[DataFrame]:
    """The frame persisted (memory, then disk) for the block's several actions, and released after it."""
    kept = frame.persist()
    try:
        yield kept
    finally:
        kept.unpersist()


def local_dataframe(spark: SparkSession, rows: Sequence[tuple[object, ...]], schema: StructType) -> DataFrame:
    """A DataFrame of rows the driver holds. With Arrow on (spark.sql.execution.arrow.pyspark.enabled) they go
    to the JVM as one Arrow batch, so no Python worker has to unpickle them when a query runs, as it would for
    a plain list. Times must be timezone-aware (naive ones would be read in the machine's zone)."""
    if spark.conf.get("spark.sql.execution.arrow.pyspark.enabled", "false") != "true":
        return spark.createDataFrame(list(rows), schema)
    import pandas as pd  # type: ignore[import-untyped]

    frame = pd.DataFrame.from_records(list(rows), columns=schema.fieldNames())
    return spark.createDataFrame(frame, schema)
