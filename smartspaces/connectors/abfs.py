"""Azure Data Lake Storage Gen2 (abfss://): the Hadoop ABFS settings that sign Spark in to the lake's account.

Per account (the `.<account>.dfs.core.windows.net` suffix), so another account the jobs might read keeps its
own settings. The classes are hadoop-azure's at Spark's Hadoop version (3.3), baked into the image.
"""

from __future__ import annotations

from smartspaces.config import LakeSettings

_TOKEN_PROVIDERS = {
    "managed_identity": "org.apache.hadoop.fs.azurebfs.oauth2.MsiTokenProvider",
    "service_principal": "org.apache.hadoop.fs.azurebfs.oauth2.ClientCredsTokenProvider",
}


def abfs_conf(lake: LakeSettings) -> dict[str, str]:
    """spark.hadoop.fs.azure.* settings for lake.auth (none for a local lake or auth none)."""
    account = lake.storage_account
    if lake.auth == "none" or account is None:
        return {}
    suffix = f"{account}.dfs.core.windows.net"

    def key(name: str) -> str:
        return f"spark.hadoop.fs.azure.{name}.{suffix}"

    if lake.auth == "account_key":
        assert lake.account_key is not None  # checked when the settings were loaded
        return {key("account.key"): lake.account_key.get_secret_value()}
    conf = {
        key("account.auth.type"): "OAuth",
        key("account.oauth.provider.type"): _TOKEN_PROVIDERS[lake.auth],
    }
    if lake.auth == "service_principal":
        assert lake.client_secret is not None  # checked when the settings were loaded
        conf[key("account.oauth2.client.endpoint")] = f"https://login.microsoftonline.com/{lake.tenant_id}/oauth2/token"
        conf[key("account.oauth2.client.id")] = str(lake.client_id)
        conf[key("account.oauth2.client.secret")] = lake.client_secret.get_secret_value()
    else:
        if lake.tenant_id:
            conf[key("account.oauth2.msi.tenant")] = lake.tenant_id
        if lake.client_id:  # a user-assigned identity; without it, the system-assigned one
            conf[key("account.oauth2.client.id")] = lake.client_id
    return conf
