"""How load traffic authenticates: one header whose value is read at run time from an
environment variable, a file, or a command that prints a token. A token never
appears in the profile itself.

    auth:
      header: Authorization
      prefix: "Bearer "
      env: MY_SERVICE_TOKEN        # or  file: ~/.config/app/token  or  command: [...]
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from gameday.errors import ConfigError
from gameday.target._types import Command, Strict

_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LITERAL_TOKEN = (
    "a literal token is not allowed in the profile: put it in an environment variable, "
    "a file or a command and name that here (env, file or command)"
)


class TargetProfileAuthError(ConfigError):
    """The auth header's token could not be read (exit 2, before any load)."""


class Auth(Strict):
    """One header on every request of the load; exactly one of env, file, command."""

    header: str = Field(default="Authorization", description="the header's name")
    prefix: str = Field(default="Bearer ", description="written before the token")
    env: str | None = Field(default=None, description="environment variable holding the token")
    file: Path | None = Field(default=None, description="file holding the token (stripped)")
    command: Command | None = Field(default=None, description="prints the token on stdout")
    # A trap, never offered: a token written here is refused with LITERAL_TOKEN.
    token: SkipJsonSchema[str | None] = Field(default=None, exclude=True)
    value: SkipJsonSchema[str | None] = Field(default=None, exclude=True)

    @field_validator("token", "value")
    @classmethod
    def _no_literal_token(cls, literal: str | None) -> None:
        if literal is not None:
            raise ValueError(LITERAL_TOKEN)

    @field_validator("header")
    @classmethod
    def _header_name(cls, header: str) -> str:
        if not _HEADER.match(header):
            # Not echoed: it may be "Authorization: Bearer <the token>".
            raise ValueError(
                "not a header name (letters, digits and -); the value comes from env, "
                "file or command, never from the profile"
            )
        return header

    @field_validator("env")
    @classmethod
    def _env_name(cls, env: str | None) -> str | None:
        if env is not None and not _ENV_NAME.match(env):
            # Not echoed: a token pasted here must not reach a log.
            raise ValueError(
                "not an environment variable name (letters, digits, _); "
                "name the variable that holds the token, not the token"
            )
        return env

    @model_validator(mode="after")
    def _one_source(self) -> Auth:
        given = [n for n in ("env", "file", "command") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of env, file, command for the token (got {len(given)})"
            )
        return self


def auth_headers(auth: Auth, *, folder: Path) -> dict[str, str]:
    """The header with its token, read now (a relative file from the profile's folder).
    A missing variable, an unreadable file or a failing command is one line that names it,
    never the token."""
    return {auth.header: auth.prefix + _token(auth, folder)}


def _token(auth: Auth, folder: Path) -> str:
    if auth.env is not None:
        token = os.environ.get(auth.env, "").strip()
        if not token:
            raise TargetProfileAuthError(
                f"auth.env: the environment variable {auth.env} is not set or empty: "
                "export it with the service's token"
            )
        return token
    if auth.file is not None:
        path = auth.file.expanduser()
        path = path if path.is_absolute() else folder / path
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise TargetProfileAuthError(f"auth.file: cannot read {path}: {exc.strerror}") from None
        if not token:
            raise TargetProfileAuthError(f"auth.file: {path} is empty: write the token in it")
        return token
    assert auth.command is not None  # _one_source
    try:
        done = subprocess.run(
            auth.command, capture_output=True, text=True, timeout=60, cwd=folder, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetProfileAuthError(
            f"auth.command {auth.command[0]!r} could not run: {exc}"
        ) from None
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetProfileAuthError(
            f"auth.command {' '.join(auth.command)!r} exited {done.returncode} "
            f"without a token: {last}"
        )
    return token
