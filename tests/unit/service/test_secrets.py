"""Secrets from ``*_FILE`` variables and the signing key set (rotation by key id)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import DEV_JWT_KEY, AmqpSettings, AuthSettings, PostgresSettings

SECRET = "file-secret-" + "s" * 32


@pytest.fixture(autouse=True)
def _clean_service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SERVICE_"):
            monkeypatch.delenv(name)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_signing_key_comes_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_AUTH_JWT_KEY_FILE", str(_write(tmp_path, "jwt", SECRET + "\n")))
    auth = AuthSettings(SERVICE_PROFILE="production")
    assert auth.keyset.signing_key.secret == SECRET  # trailing newline dropped


def test_a_key_and_its_file_together_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_AUTH_JWT_KEY_FILE", str(_write(tmp_path, "jwt", SECRET)))
    monkeypatch.setenv("SERVICE_AUTH_JWT_KEY", SECRET)
    with pytest.raises(ValueError, match="set SERVICE_AUTH_JWT_KEY or SERVICE_AUTH_JWT_KEY_FILE"):
        AuthSettings()


def test_a_missing_secret_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_POSTGRES_PASSWORD_FILE", str(tmp_path / "nope"))
    with pytest.raises(ValueError, match=r"SERVICE_POSTGRES_PASSWORD_FILE points at .*nope"):
        PostgresSettings()


def test_database_and_broker_passwords_from_files_replace_the_url_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_POSTGRES_DSN", "postgresql://app:dev@127.0.0.1:5432/db")
    monkeypatch.setenv("SERVICE_POSTGRES_PASSWORD_FILE", str(_write(tmp_path, "pg", "p@ss/w\n")))
    monkeypatch.setenv("SERVICE_AMQP_PASSWORD_FILE", str(_write(tmp_path, "mq", "mq-secret")))
    assert PostgresSettings().dsn == "postgresql://app:p%40ss%2Fw@127.0.0.1:5432/db"
    assert AmqpSettings().url == "amqp://gameday:mq-secret@127.0.0.1:22672/"


def test_replicas_get_the_same_password_and_tls_as_the_primary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_POSTGRES_PASSWORD_FILE", str(_write(tmp_path, "pg", "s3cret")))
    monkeypatch.setenv(
        "SERVICE_POSTGRES_REPLICA_DSNS",
        "postgresql://app:dev@10.0.0.2:5432/db, postgresql://app@10.0.0.3:5432/db",
    )
    monkeypatch.setenv("SERVICE_POSTGRES_SSLMODE", "require")
    replicas = PostgresSettings().replica_dsns.split(",")
    assert replicas == [
        "postgresql://app:s3cret@10.0.0.2:5432/db?sslmode=require",
        "postgresql://app:s3cret@10.0.0.3:5432/db?sslmode=require",
    ]


def test_a_whole_dsn_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = "postgresql://u:secret@db.internal:5432/app"
    monkeypatch.setenv("SERVICE_POSTGRES_DSN_FILE", str(_write(tmp_path, "dsn", dsn)))
    assert PostgresSettings().dsn == dsn


def test_postgres_tls_is_required_by_setting() -> None:
    settings = PostgresSettings(sslmode="verify-full", sslrootcert=Path("/etc/ca.pem"))
    assert settings.dsn.endswith("/gameday?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem")
    with pytest.raises(ValidationError, match="sslmode"):
        PostgresSettings(sslmode="sometimes")


def test_a_key_set_file_names_the_current_key_and_retired_ones(tmp_path: Path) -> None:
    k1 = _write(tmp_path, "k1", "first-key-" + "a" * 32)
    keys = _write(
        tmp_path,
        "keys.yaml",
        f"current: k2\nkeys:\n"
        f"  - {{kid: k2, secret: second-key-{'b' * 32}}}\n"
        f"  - {{kid: k1, secret_file: {k1}, status: retired,\n"
        "       grace_until: '2026-01-01T00:00:00Z'}\n",
    )
    keyset = AuthSettings(keys_file=keys, SERVICE_PROFILE="production").keyset
    assert keyset.signing_key.kid == "k2"
    retired = keyset.get("k1")
    assert retired is not None and retired.secret == "first-key-" + "a" * 32
    assert retired.status == "retired" and retired.grace_until is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("current: k3\nkeys: [{kid: k1, secret: " + "a" * 32 + "}]", "current key 'k3' is not in"),
        (
            "current: k1\nkeys: [{kid: k1, secret: " + "a" * 32 + ", status: retired, "
            "grace_until: '2030-01-01T00:00:00Z'}]",
            "current key 'k1' is retired",
        ),
        (
            "current: k1\nkeys: [{kid: k1, secret: " + "a" * 32 + "}, "
            "{kid: k0, secret: " + "b" * 32 + ", status: retired}]",
            "key 'k0' is retired: give its grace_until",
        ),
        ("keys: [{kid: k1, secret: short}]", "needs 32\\+ characters"),
        (
            "keys: [{kid: k1, secret: " + "a" * 32 + "}, {kid: k1, secret: " + "b" * 32 + "}]",
            "duplicate key id 'k1'",
        ),
        ("[not, a, mapping]", "must be a mapping"),
    ],
    ids=["unknown-current", "retired-current", "retired-without-grace", "short", "dup", "list"],
)
def test_a_bad_key_set_is_refused_naming_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        AuthSettings(keys_file=_write(tmp_path, "keys.yaml", text))


def test_the_dev_key_in_a_key_set_is_refused_outside_development(tmp_path: Path) -> None:
    keys = _write(
        tmp_path, "keys.json", f'{{"keys": [{{"kid": "dev", "secret": "{DEV_JWT_KEY}"}}]}}'
    )
    assert AuthSettings(keys_file=keys).keyset.current == "dev"
    with pytest.raises(ValidationError, match="development key"):
        AuthSettings(keys_file=keys, SERVICE_PROFILE="staging")
