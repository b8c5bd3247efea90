"""The Python workers' daemon: Spark's archives off the workers' import path when nothing is imported from them."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

from pyspark.sql import SparkSession

from smartspaces.python_daemon import ARCHIVE_SUFFIXES, redundant_archives


def archive(path: Path, files: dict[str, str]) -> str:
    with zipfile.ZipFile(path, "w") as created:
        for name, content in files.items():
            created.writestr(name, content)
    return str(path)


def installed(folder: Path, package: str, version: str) -> str:
    (folder / package).mkdir(parents=True)
    (folder / package / "__init__.py").write_text("")
    (folder / package / "version.py").write_text(version)
    return str(folder)


def test_an_archive_goes_only_when_every_package_it_holds_is_installed_at_its_version(tmp_path: Path) -> None:
    site = installed(tmp_path / "site", "sparkish", "__version__ = '3.5.7'\n")
    installed(tmp_path / "site", "gatewayish", "__version__ = '0.10.9.7'\n")
    classes_only = archive(tmp_path / "core.jar", {"org/apache/Thing.class": "", "META-INF/MANIFEST.MF": ""})
    same = archive(
        tmp_path / "sparkish.zip",
        {"sparkish/__init__.py": "", "sparkish/version.py": "__version__ = '3.5.7'\n", "sparkish/sql/__init__.py": ""},
    )
    other_release = archive(
        tmp_path / "gatewayish.zip", {"gatewayish/__init__.py": "", "gatewayish/version.py": "__version__ = '0.10.9'\n"}
    )
    not_installed = archive(tmp_path / "extra.zip", {"helper.py": "", "tools/__init__.py": ""})
    python_in_a_jar = archive(tmp_path / "with-python.jar", {"graphish/__init__.py": "", "org/Graph.class": ""})
    path = [classes_only, same, other_release, not_installed, python_in_a_jar, site]

    assert redundant_archives(path) == [classes_only, same]


def test_the_workers_import_pyspark_from_the_installed_package_with_no_archive_on_their_path(
    spark: SparkSession,
) -> None:
    def worker_imports(_: object) -> tuple[str | None, list[str]]:
        import pyspark

        # Python's own path names a python3NN.zip that does not exist: only archives that do count.
        archives = [entry for entry in sys.path if entry.endswith(ARCHIVE_SUFFIXES) and Path(entry).is_file()]
        return pyspark.__file__, archives

    [(pyspark_file, archives)] = spark.sparkContext.parallelize([0], 1).map(worker_imports).collect()
    assert archives == []
    assert ".zip" not in str(pyspark_file) and Path(str(pyspark_file)).is_file()
