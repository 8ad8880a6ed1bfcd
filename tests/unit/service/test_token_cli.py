"""`gameday token` end to end, as a subprocess: stdout holds the token and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt

from gameday.settings import PROJECT_ROOT
from service.settings import DEV_JWT_KEY


def _run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVICE_", "GAMEDAY_"))}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-m", "gameday.cli", "token", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=60,
    )


def test_token_prints_only_a_signed_token_with_the_claims() -> None:
    done = _run("--tenant", "acme", "--role", "admin", "--ttl", "1h30m")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n"
    assert jwt.get_unverified_header(token)["kid"] == "dev"
    claims = jwt.decode(token, DEV_JWT_KEY, algorithms=["HS256"], audience="gameday-service")
    assert (claims["tenant"], claims["role"]) == ("acme", "admin")
    assert claims["exp"] - claims["iat"] == 5400
    assert claims["sub"]


def test_an_unknown_role_exits_2_naming_the_choices() -> None:
    done = _run("--tenant", "acme", "--role", "boss")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "unknown role 'boss'; expected one of admin, user, read-only" in done.stderr


def test_a_bad_ttl_exits_2_listing_the_valid_forms() -> None:
    done = _run("--tenant", "acme", "--ttl", "soon")
    assert done.returncode == 2
    assert "1h30m" in done.stderr


def test_token_signs_with_the_current_key_of_the_key_set(tmp_path: Path) -> None:
    secret = "rotated-key-" + "r" * 32
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        f"current: k2\nkeys:\n  - {{kid: k2, secret: {secret}}}\n"
        f"  - {{kid: k1, secret: {'o' * 40}, status: retired,\n"
        "       grace_until: '2020-01-01T00:00:00Z'}\n"
    )
    done = _run("--tenant", "acme", SERVICE_AUTH_KEYS_FILE=str(keys))
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert jwt.get_unverified_header(token)["kid"] == "k2"
    assert jwt.decode(token, secret, algorithms=["HS256"], audience="gameday-service")["tenant"]


def test_a_bad_key_set_exits_2_naming_the_file(tmp_path: Path) -> None:
    done = _run("--tenant", "acme", SERVICE_AUTH_KEYS_FILE=str(tmp_path / "missing.yaml"))
    assert done.returncode == 2
    assert "SERVICE_AUTH_KEYS_FILE points at" in done.stderr
