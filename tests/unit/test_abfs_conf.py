"""The lake's Azure sign-in: typed settings, checked at start-up, mapped to Hadoop's per-account ABFS keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartspaces.config import PROJECT_ROOT, ConfigError, load_settings
from smartspaces.connectors.abfs import abfs_conf
from smartspaces.session import spark_conf

SUFFIX = "smartspaceslake.dfs.core.windows.net"


def test_a_local_lake_gets_no_azure_settings() -> None:
    assert abfs_conf(load_settings("local", environ={}).lake) == {}


def test_the_aks_lake_signs_in_with_the_pods_managed_identity() -> None:
    lake = load_settings("aks", environ={}).lake
    assert lake.auth == "managed_identity"
    assert abfs_conf(lake) == {
        f"spark.hadoop.fs.azure.account.auth.type.{SUFFIX}": "OAuth",
        f"spark.hadoop.fs.azure.account.oauth.provider.type.{SUFFIX}": (
            "org.apache.hadoop.fs.azurebfs.oauth2.MsiTokenProvider"
        ),
    }


def test_a_service_principal_takes_its_secret_from_the_environment_and_the_session_gets_it() -> None:
    settings = load_settings(
        "aks",
        environ={
            "SMARTSPACES__LAKE__AUTH": "service_principal",
            "SMARTSPACES__LAKE__TENANT_ID": "tenant-1",
            "SMARTSPACES__LAKE__CLIENT_ID": "client-1",
            "SMARTSPACES__LAKE__CLIENT_SECRET": "s3cr3t",
        },
    )
    conf = spark_conf(settings, "test")
    assert conf[f"spark.hadoop.fs.azure.account.oauth2.client.endpoint.{SUFFIX}"] == (
        "https://login.microsoftonline.com/tenant-1/oauth2/token"
    )
    assert conf[f"spark.hadoop.fs.azure.account.oauth2.client.secret.{SUFFIX}"] == "s3cr3t"
    # Spark masks it in its UI and event log.
    assert conf["spark.redaction.regex"].startswith("(?i)secret|")
    assert "s3cr3t" not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SMARTSPACES__LAKE__AUTH": "service_principal"}, "needs lake.tenant_id, lake.client_id, lake.client_secret"),
        ({"SMARTSPACES__LAKE__AUTH": "account_key"}, "needs lake.account_key"),
        (
            {"SMARTSPACES__LAKE__AUTH": "managed_identity", "SMARTSPACES__LAKE__ROOT": "/data/lake"},
            "needs lake.root abfss://",
        ),
    ],
)
def test_an_incomplete_sign_in_is_refused_naming_the_keys(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings("aks", environ=environ)


def test_the_lake_secrets_are_refused_in_a_file(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "conf" / "aks.yaml").read_text().replace("lake:\n", "lake:\n  account_key: k3y\n", 1)
    (tmp_path / "test.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"lake\.account_key is a secret .* SMARTSPACES__LAKE__ACCOUNT_KEY"):
        load_settings("test", environ={}, directory=tmp_path)
