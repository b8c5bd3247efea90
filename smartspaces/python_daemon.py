"""The daemon of the Python workers (spark.python.daemon.module): pyspark's own, started without the archives that
make each Python task re-read thousands of zip entries.

Spark puts pyspark.zip, py4j's zip and its core jar at the front of the workers' PYTHONPATH, and pyspark's
worker calls importlib.invalidate_caches() before every task. On Python 3.10 and 3.11 that re-reads the whole
directory of each zip archive the import system has opened: the jar's 5 221 entries, and pyspark.zip's 793 once
for each of its packages (CPython gh-103200, fixed in 3.12; SPARK-54744 in Spark's own worker). Profiled here:
96 % of a Python worker's CPU on small tasks, about 130 ms a task, which every DataFrame built from the
driver's rows and every Arrow write to Redis pays per partition.

An archive goes when the workers import nothing from it: a jar without Python modules, or a zip whose packages
are installed, at the same version, further along the path (the project's environment and its image install the
pinned pyspark and py4j). The workers fork from this process, so they start with the shorter path.
"""

from __future__ import annotations

import sys
import zipfile
from importlib.machinery import PathFinder
from pathlib import Path

ARCHIVE_SUFFIXES = (".zip", ".jar")
# The file whose content says which release of a package an archive holds (pyspark and py4j both have one).
VERSION_FILE = "version.py"


def top_level_packages(archive: zipfile.ZipFile) -> set[str]:
    """The names an archive lets Python import: its top-level packages and modules."""
    names = set()
    for entry in archive.namelist():
        parts = entry.split("/")
        if len(parts) == 2 and parts[1] == "__init__.py":
            names.add(parts[0])
        elif len(parts) == 1 and entry.endswith(".py"):
            names.add(entry.removesuffix(".py"))
    return names


def installed_elsewhere(archive: zipfile.ZipFile, package: str, path: list[str]) -> bool:
    """Whether the package is importable from the path, with the archive's version file, byte for byte."""
    spec = PathFinder.find_spec(package, path)
    if spec is None or not spec.submodule_search_locations:
        return False
    installed = Path(next(iter(spec.submodule_search_locations))) / VERSION_FILE
    try:
        return installed.read_bytes() == archive.read(f"{package}/{VERSION_FILE}")
    except (OSError, KeyError):
        return False


def redundant_archives(path: list[str]) -> list[str]:
    """The path's archives that the workers import nothing from."""
    archives = [entry for entry in path if entry.endswith(ARCHIVE_SUFFIXES) and Path(entry).is_file()]
    remaining = [entry for entry in path if entry not in archives]
    redundant = []
    for entry in archives:
        try:
            with zipfile.ZipFile(entry) as archive:
                packages = top_level_packages(archive)
                if all(installed_elsewhere(archive, package, remaining) for package in packages):
                    redundant.append(entry)
        except (OSError, zipfile.BadZipFile):
            continue
    return redundant


def without_redundant_archives() -> None:
    """Takes the redundant archives off this process's import path and out of the importers' cache."""
    redundant = tuple(redundant_archives(sys.path))
    if not redundant:
        return
    sys.path[:] = [entry for entry in sys.path if entry not in redundant]
    # Opened archives are cached by path, and by each package's folder inside them (pyspark.zip/pyspark/sql).
    for key in [key for key in sys.path_importer_cache if key.startswith(redundant)]:
        del sys.path_importer_cache[key]


if __name__ == "__main__":
    # Before pyspark is imported, so that it comes from the installed package rather than from pyspark.zip.
    without_redundant_archives()
    from pyspark import daemon

    daemon.manager()  # type: ignore[no-untyped-call]
