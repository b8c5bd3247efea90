"""A job that ran out of disk says which folder of the configuration is full, not only Java's "No space left".

Spark reports a full disk as an IOException deep in a task's stack trace, naming neither the folder nor the
setting. The job's folders on local disks are checked for free space, and the fullest one is named with its
setting and what to do.
"""

from __future__ import annotations

import shutil
import tempfile
import traceback
from pathlib import Path
from urllib.parse import urlparse

from smartspaces.config import Settings

NO_SPACE = "No space left on device"


def local_folders(settings: Settings) -> list[tuple[str, Path]]:
    """(setting, folder) of every folder a job writes on a local disk; URLs (abfss://) are left out."""
    folders = [
        ("lake.root", settings.lake.root),
        ("enrichment.quality.data_docs_dir", str(settings.enrichment.quality.data_docs_dir)),
        ("spark.local.dir (the system's temporary folder)", tempfile.gettempdir()),
    ]
    local = []
    for setting, folder in folders:
        parsed = urlparse(folder)
        if parsed.scheme in ("", "file"):
            local.append((setting, Path(parsed.path if parsed.scheme else folder)))
    return local


def _free_bytes(folder: Path) -> int | None:
    """Free bytes of the file system the folder is on (its nearest existing ancestor's)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return None


def disk_full_message(error: BaseException, settings: Settings) -> str | None:
    """A message naming the full folder and its setting, when the error is a full disk; None otherwise."""
    if NO_SPACE not in "".join(traceback.format_exception(error)):
        return None
    measured = [
        (free, setting, folder)
        for setting, folder in local_folders(settings)
        if (free := _free_bytes(folder)) is not None
    ]
    if not measured:
        return f"{NO_SPACE}: no local folder of the configuration is full; check the executors' disks"
    free, setting, folder = min(measured, key=lambda entry: entry[0])
    return (
        f"the disk of {folder} ({setting}) is full: {free // 1024} KiB free ({NO_SPACE}). Nothing was half "
        "written: Delta commits and the streams' checkpoints are atomic, so a batch that failed is written again "
        "whole. Free space there (or point the setting elsewhere) and start the job again"
    )
