"""The project's own JVM classes (smartspaces/jvm: the PostgreSQL binary COPY writer, the change feed's query
templates, the events' digest's partial lists, the local file system without shell commands) as a jar, compiled
once.

javac compiles the sources against the installed pyspark's jars and the resolved connectors' (the PostgreSQL
driver), so the classes are built for the Spark the sessions run. The jar is kept beside the connectors'
records, keyed by the sources, the Spark version and the JDK, and built again when one of them changes.
`make install` builds it ahead of the first run (`python -m smartspaces.connector_jars` prints it last, for
spark-submit --jars); a local session adds it to spark.jars after the connectors. The image compiles the same
sources in its build (Dockerfile) into Spark's own jars.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from smartspaces.class_archive import java_home, jdk_identity
from smartspaces.config import SparkSettings
from smartspaces.connector_jars import connector_jars, exclusive, ivy_home
from smartspaces.pins import load_pins

log = logging.getLogger("smartspaces.project_jar")
SOURCES_DIR = Path(__file__).parent / "jvm"
# Below the Ivy home, beside the connectors' records and the class archives.
JARS_DIR = "project-jars"
# The classes run on the JDK the image and the local sessions share.
JAVA_RELEASE = "17"


class ProjectJarBuildError(RuntimeError):
    """javac is missing or refused the sources; the message says which and ends with its output."""


def sources() -> list[Path]:
    return sorted(SOURCES_DIR.rglob("*.java"))


def jar_path(spark: SparkSettings) -> Path:
    """Where the jar of these sources, this Spark and this JDK is kept."""
    digest = hashlib.sha256("\n".join([jdk_identity(), load_pins().spark_version]).encode())
    for source in sources():
        digest.update(str(source.relative_to(SOURCES_DIR)).encode())
        digest.update(source.read_bytes())
    return ivy_home(spark) / JARS_DIR / f"smartspaces-jvm-{digest.hexdigest()[:16]}.jar"


def project_jar(spark: SparkSettings) -> Path:
    """The jar of the project's JVM classes, compiled first if these sources were never compiled here."""
    jar = jar_path(spark)
    if jar.is_file():
        return jar
    with exclusive(jar.parent / ".lock"):
        if not jar.is_file():
            _compile(sources(), [*spark_jars(), *connector_jars(spark)], jar)
            log.info("the project's JVM classes compiled into %s", jar)
    return jar


def session_jars(spark: SparkSettings) -> list[Path]:
    """The jars a local session adds to Spark's (spark.jars, spark-submit --jars): the connectors, then this one."""
    return [*connector_jars(spark), project_jar(spark)]


def spark_jars() -> list[Path]:
    import pyspark

    return sorted((Path(pyspark.__file__).parent / "jars").glob("*.jar"))


def _compile(java_sources: Sequence[Path], classpath: Sequence[Path], jar: Path) -> None:
    """Compiles the sources into the jar, written whole or not at all (a concurrent reader never sees half)."""
    home = java_home()
    javac = home / "bin" / "javac" if home is not None and (home / "bin" / "javac").is_file() else shutil.which("javac")
    if javac is None:
        raise ProjectJarBuildError(f"javac not found (JAVA_HOME={home}): a JDK {JAVA_RELEASE} compiles {SOURCES_DIR}")
    with tempfile.TemporaryDirectory(prefix="smartspaces-javac-") as build:
        classes = Path(build) / "classes"
        command = [str(javac), "--release", JAVA_RELEASE, "-nowarn", "-d", str(classes)]
        command += ["-cp", ":".join(str(path) for path in classpath), *map(str, java_sources)]
        compiled = subprocess.run(command, capture_output=True, text=True, check=False)
        if compiled.returncode != 0:
            raise ProjectJarBuildError(f"javac could not compile {SOURCES_DIR}:\n{compiled.stdout}{compiled.stderr}")
        jar.parent.mkdir(parents=True, exist_ok=True)
        partial = jar.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(classes.rglob("*.class")):
                archive.write(path, path.relative_to(classes).as_posix())
        partial.replace(jar)
