"""The auth header's token is read at run time from env, a file or a command; each
failure is one line naming the source, never the token."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gameday.target.auth import Auth, TargetProfileAuthError, auth_headers


def test_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHOP_TOKEN", " s3cret\n")
    assert auth_headers(Auth(env="SHOP_TOKEN"), folder=tmp_path) == {
        "Authorization": "Bearer s3cret"
    }


def test_env_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SHOP_TOKEN", raising=False)
    with pytest.raises(TargetProfileAuthError, match="SHOP_TOKEN is not set"):
        auth_headers(Auth(env="SHOP_TOKEN"), folder=tmp_path)


def test_file_relative_to_the_profile(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\n")
    auth = Auth(file=Path("token"), header="X-Api-Key", prefix="")
    assert auth_headers(auth, folder=tmp_path) == {"X-Api-Key": "abc"}


def test_file_missing(tmp_path: Path) -> None:
    with pytest.raises(TargetProfileAuthError, match="cannot read .*nope"):
        auth_headers(Auth(file=Path("nope")), folder=tmp_path)


def test_command(tmp_path: Path) -> None:
    auth = Auth(command=[sys.executable, "-c", "print('t0k')"], prefix="Basic ")
    assert auth_headers(auth, folder=tmp_path) == {"Authorization": "Basic t0k"}


def test_failing_command_says_its_exit_code_and_last_line(tmp_path: Path) -> None:
    script = "import sys; sys.stderr.write('no credentials\\n'); sys.exit(3)"
    with pytest.raises(TargetProfileAuthError) as caught:
        auth_headers(Auth(command=[sys.executable, "-c", script]), folder=tmp_path)
    assert "exited 3 without a token: no credentials" in str(caught.value)
    assert "\n" not in str(caught.value)
