"""`gameday token` end to end, as a subprocess: stdout holds the token and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys

import jwt

from gameday.settings import PROJECT_ROOT
from service.settings import DEV_JWT_KEY


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVICE_", "GAMEDAY_"))}
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
    claims = jwt.decode(token, DEV_JWT_KEY, algorithms=["HS256"])
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
