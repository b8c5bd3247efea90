"""A full disk's message: only for a full disk, and only local folders are measured."""

from __future__ import annotations

from pathlib import Path

from smartspaces.config import Settings
from smartspaces.disk_full import NO_SPACE, disk_full_message, local_folders


def with_lake(settings: Settings, root: str) -> Settings:
    return settings.model_copy(update={"lake": settings.lake.model_copy(update={"root": root})})


def test_an_error_that_is_not_a_full_disk_has_no_such_message(settings: Settings) -> None:
    assert disk_full_message(RuntimeError("Connection refused"), settings) is None


def test_a_full_disk_names_a_folder_and_its_setting(settings: Settings, tmp_path: Path) -> None:
    configured = with_lake(settings, str(tmp_path))
    try:
        raise RuntimeError("the writer failed") from OSError(28, NO_SPACE)
    except RuntimeError as error:
        message = disk_full_message(error, configured)
    assert message is not None
    assert "KiB free" in message
    assert any(f"the disk of {folder} ({setting}) is full" in message for setting, folder in local_folders(configured))


def test_a_lake_in_the_cloud_is_not_measured(settings: Settings) -> None:
    remote = with_lake(settings, "abfss://lake@account.dfs.core.windows.net/smartspaces")
    assert "lake.root" not in [setting for setting, _ in local_folders(remote)]
    assert ("lake.root", Path("/data/lake")) in local_folders(with_lake(settings, "file:///data/lake"))
