"""Resolves a server's Maven artifacts (with their runtime dependencies) into a cached folder of jars."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from smartspaces.stack.process import StackError

_STAMP = ".resolved"


def maven_pom(artifacts: tuple[str, ...]) -> str:
    """A pom.xml whose dependencies are the artifacts (group:artifact:version)."""
    dependencies = []
    for coordinate in artifacts:
        group, artifact, version = coordinate.split(":")
        dependencies.append(
            f"<dependency><groupId>{escape(group)}</groupId><artifactId>{escape(artifact)}</artifactId>"
            f"<version>{escape(version)}</version></dependency>"
        )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>smartspaces.local-stack</groupId><artifactId>server-jars</artifactId><version>1</version>"
        f"<dependencies>{''.join(dependencies)}</dependencies></project>"
    )


def resolve_jars(artifacts: tuple[str, ...], folder: Path) -> Path:
    """Copies the artifacts and their runtime dependencies into folder, once per artifact list."""
    wanted = "\n".join(artifacts)
    stamp = folder / _STAMP
    if stamp.exists() and stamp.read_text() == wanted:
        return folder
    maven = shutil.which("mvn")
    if maven is None:
        raise StackError("Maven (mvn) is not on PATH: it is needed once to fetch the server jars")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as build:
        (Path(build) / "pom.xml").write_text(maven_pom(artifacts))
        result = subprocess.run(
            [
                maven,
                "-q",
                "-B",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={folder}",
            ],
            cwd=build,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise StackError(f"Maven could not resolve {', '.join(artifacts)}:\n{result.stdout[-3000:]}")
    stamp.write_text(wanted)
    return folder


def find_jar(folder: Path, prefix: str) -> Path:
    matches = sorted(folder.glob(f"{prefix}-*.jar"))
    if not matches:
        raise StackError(f"no {prefix} jar in {folder}")
    return matches[0]
