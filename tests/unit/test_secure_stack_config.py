"""The secure stack's configuration (conf/secure.yaml), as each server is given it: TLS only, passwords kept in the
stack's folder, never in a configuration file (no server started)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.serialization import pkcs12

from smartspaces.config import ConfigError, Settings, load_settings
from smartspaces.session import CASSANDRA_TLS_CIPHER_SUITES, cassandra_conf, java_truststore_path, spark_conf
from smartspaces.stack.cassandra import CassandraServer
from smartspaces.stack.certificates import java_truststore, stack_authority
from smartspaces.stack.identities import part_environment
from smartspaces.stack.postgres import WRITER_ROLE, PostgresServer
from smartspaces.stack.process import StackError
from smartspaces.stack.redis import RedisServer
from smartspaces.stack.secrets import stack_password


def secure_in(folder: Path) -> Settings:
    """conf/secure.yaml, its stack in folder."""
    settings = load_settings("secure", environ={})
    assert settings.stack is not None
    return settings.model_copy(update={"stack": settings.stack.model_copy(update={"data_dir": folder})})


def test_secure_yaml_extends_the_local_settings_and_changes_only_what_it_names() -> None:
    local, secure = load_settings("local", environ={}), load_settings("secure", environ={})
    assert secure.environment == "secure"
    assert (secure.cassandra.port, secure.cassandra.ssl, secure.cassandra.username) == (10350, True, "smartspaces")
    assert secure.cassandra.connector == local.cassandra.connector
    assert secure.ingest == local.ingest and secure.changefeed == local.changefeed
    assert (secure.postgres.sslmode, secure.postgres.database) == ("verify-full", local.postgres.database)
    assert secure.stack is not None and local.stack is not None
    assert secure.stack.jars_dir == local.stack.data_dir / "jars"
    assert secure.kafka.ssl_ca_location == secure.stack.data_dir / "ca" / "ca.pem"
    assert secure.mysql is None


def test_an_extending_file_may_hold_no_secret_and_no_circle(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text((Path("conf") / "local.yaml").read_text())
    (tmp_path / "leaky.yaml").write_text("extends: base\npostgres: {password: hunter2}\n")
    with pytest.raises(ConfigError, match=r"postgres\.password is a secret"):
        load_settings("leaky", environ={}, directory=tmp_path)
    (tmp_path / "a.yaml").write_text("extends: b\n")
    (tmp_path / "b.yaml").write_text("extends: a\n")
    with pytest.raises(ConfigError, match="round in a circle"):
        load_settings("a", environ={}, directory=tmp_path)


def test_a_secure_stack_refuses_clients_that_would_not_use_tls_or_a_user() -> None:
    with pytest.raises(ConfigError, match=r"stack\.secure needs cassandra\.ssl: true, redis\.username"):
        load_settings(
            "secure",
            environ={"SMARTSPACES__CASSANDRA__SSL": "false", "SMARTSPACES__REDIS__USERNAME": ""},
        )


def test_cassandra_runs_with_passwords_and_tls_only_from_a_key_store_of_the_stack(tmp_path: Path) -> None:
    settings = secure_in(tmp_path)
    assert settings.stack is not None
    server = CassandraServer(settings, settings.stack)
    config = yaml.safe_load(server.config_text())
    assert config["native_transport_port"] == 10350
    assert (config["authenticator"], config["authorizer"]) == ("PasswordAuthenticator", "CassandraAuthorizer")
    encryption = config["client_encryption_options"]
    assert (encryption["enabled"], encryption["optional"], encryption["store_type"]) == (True, False, "PKCS12")
    password = stack_password(settings.stack, "cassandra", "keystore")
    assert encryption["keystore_password"] == password
    key, certificate, _ = pkcs12.load_key_and_certificates(Path(encryption["keystore"]).read_bytes(), password.encode())
    assert key is not None and certificate is not None
    assert stat.S_IMODE(Path(encryption["keystore"]).stat().st_mode) == 0o600


def test_redis_listens_with_tls_only_and_its_users_file_holds_no_password(tmp_path: Path) -> None:
    settings = secure_in(tmp_path)
    assert settings.stack is not None
    server = RedisServer(settings, settings.stack)
    server.prepare()
    conf = (tmp_path / "redis" / "redis.conf").read_text().splitlines()
    assert {"port 0", "tls-port 6380", "tls-auth-clients no"} <= set(conf)
    users = (tmp_path / "redis" / "users.acl").read_text()
    assert users.startswith("user default off")
    for user in ("smartspaces-writer", "smartspaces-api", "smartspaces-admin"):
        assert f"user {user} on #" in users
        assert server.password(user) not in users


def test_postgresql_runs_with_tls_and_scram_only(tmp_path: Path) -> None:
    settings = secure_in(tmp_path)
    assert settings.stack is not None
    server = PostgresServer(settings, settings.stack)
    command = server.command()
    options = {command[index + 1] for index, part in enumerate(command) if part == "-c"}
    assert {"ssl=on", "password_encryption=scram-sha-256"} <= options
    hba = (tmp_path / "postgres" / "pg_hba.conf").read_text()
    assert [line.split()[0] for line in hba.splitlines()] == ["local", "hostssl"]
    assert "trust" not in hba


def test_each_part_gets_its_users_and_their_passwords_and_a_plain_stack_none(tmp_path: Path) -> None:
    settings = secure_in(tmp_path)
    assert settings.stack is not None
    enrich = part_environment(settings, "enrich")
    assert enrich["SMARTSPACES__POSTGRES__USER"] == WRITER_ROLE
    assert enrich["SMARTSPACES__POSTGRES__PASSWORD"] == stack_password(settings.stack, "postgres", WRITER_ROLE)
    assert enrich["SMARTSPACES__CASSANDRA__USERNAME"] == "smartspaces_reader"
    assert enrich["SMARTSPACES__REDIS__USERNAME"] == "smartspaces-writer"
    serve = part_environment(settings, "serve")
    assert serve["SMARTSPACES__REDIS__USERNAME"] == "smartspaces-api"
    assert serve["SMARTSPACES__CASSANDRA__USERNAME"] == "smartspaces_api"
    assert serve["SMARTSPACES__POSTGRES__USER"] == "smartspaces"
    assert serve["SMARTSPACES__KAFKA__SASL_PASSWORD"].startswith("Endpoint=sb://localhost/;SharedAccessKey=")
    secrets = tmp_path / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in secrets.iterdir())
    with pytest.raises(StackError, match="not secure"):
        part_environment(load_settings("local", environ={}), "enrich")


def test_the_spark_connector_checks_names_with_modern_ciphers_and_the_stack_ca(tmp_path: Path) -> None:
    settings = secure_in(tmp_path)
    assert settings.stack is not None
    ca = stack_authority(settings.stack.data_dir).certificate
    cassandra = settings.cassandra.model_copy(update={"ssl_ca_certs": ca})
    conf = cassandra_conf(cassandra)
    assert conf["spark.cassandra.connection.ssl.enabledAlgorithms"] == ",".join(CASSANDRA_TLS_CIPHER_SUITES)
    assert conf["spark.cassandra.connection.ssl.trustStore.path"] == str(java_truststore_path(ca))
    session = spark_conf(settings.model_copy(update={"cassandra": cassandra}), "test")
    for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
        assert "-Ddatastax-java-driver.advanced.ssl-engine-factory.hostname-validation=true" in session[key].split()
    store = java_truststore(ca, tmp_path / "trust.p12")
    certificates = pkcs12.load_pkcs12(store.read_bytes(), None).additional_certs
    assert [entry.certificate.subject.rfc4514_string() for entry in certificates] == ["CN=smartspaces local CA"]
