"""The JWT signing keys: one current key signs, the others still verify, each named by
its key id (``kid`` in the token header). A retired key verifies until its
``grace_until`` and never after.

``SERVICE_AUTH_KEYS_FILE`` (JSON or YAML) holds the set; without it the single key
``SERVICE_AUTH_JWT_KEY`` (or ``..._FILE``) is the current key under ``SERVICE_AUTH_JWT_KID``:

    current: k2
    keys:
      - {kid: k2, secret_file: /run/secrets/jwt-k2}
      - {kid: k1, secret_file: /run/secrets/jwt-k1, status: retired,
         grace_until: "2026-12-01T00:00:00Z"}

Rotating: add the new key as ``active``, roll it out to every verifier, make it
``current``; then mark the old one ``retired`` with a grace end past the longest
token lifetime still in use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.secret_files import read_secret_file

KID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
MIN_SECRET_CHARS = 32


class SigningKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kid: str = Field(pattern=KID_PATTERN)
    secret: str = Field(default="", repr=False)
    secret_file: Path | None = None
    status: Literal["active", "retired"] = "active"
    grace_until: datetime | None = None

    @model_validator(mode="after")
    def _secret_and_grace(self) -> SigningKey:
        if self.secret and self.secret_file is not None:
            raise ValueError(f"key {self.kid!r}: give secret or secret_file, not both")
        if self.secret_file is not None:
            secret = read_secret_file(self.secret_file, what=f"key {self.kid!r} secret_file")
            object.__setattr__(self, "secret", secret)
            object.__setattr__(self, "secret_file", None)
        if len(self.secret) < MIN_SECRET_CHARS:
            raise ValueError(f"key {self.kid!r}: the secret needs {MIN_SECRET_CHARS}+ characters")
        if self.status == "retired" and self.grace_until is None:
            raise ValueError(f"key {self.kid!r} is retired: give its grace_until (ISO 8601)")
        if self.grace_until is not None and self.grace_until.tzinfo is None:
            object.__setattr__(self, "grace_until", self.grace_until.replace(tzinfo=UTC))
        return self

    def verifies_at(self, now: datetime) -> bool:
        return self.status == "active" or (self.grace_until is not None and now <= self.grace_until)


class KeySet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    current: str = ""
    keys: list[SigningKey] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_current_active_key(self) -> KeySet:
        kids = [k.kid for k in self.keys]
        duplicates = sorted({k for k in kids if kids.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate key id {duplicates[0]!r}")
        if not self.current:
            active = [k.kid for k in self.keys if k.status == "active"]
            if len(active) != 1:
                raise ValueError("name the signing key with 'current: <kid>'")
            object.__setattr__(self, "current", active[0])
        key = self.get(self.current)
        if key is None:
            raise ValueError(f"current key {self.current!r} is not in keys ({', '.join(kids)})")
        if key.status != "active":
            raise ValueError(f"current key {self.current!r} is retired; make an active key current")
        return self

    def get(self, kid: str) -> SigningKey | None:
        return next((k for k in self.keys if k.kid == kid), None)

    @property
    def signing_key(self) -> SigningKey:
        key = self.get(self.current)
        assert key is not None  # checked by the validator
        return key

    def secrets(self) -> set[str]:
        return {k.secret for k in self.keys}


def load_keyset(path: Path) -> KeySet:
    """The key set in ``path`` (YAML or JSON); ``ValueError`` naming the problem otherwise."""
    what = f"SERVICE_AUTH_KEYS_FILE ({path})"
    try:
        data = yaml.safe_load(read_secret_file(path, what="SERVICE_AUTH_KEYS_FILE"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{what} is not valid YAML or JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a mapping with 'current' and 'keys'")
    try:
        return KeySet.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{what}: {where + ': ' if where else ''}{first['msg']}") from exc


def single_keyset(kid: str, secret: str) -> KeySet:
    return KeySet(current=kid, keys=[SigningKey(kid=kid, secret=secret)])


def now_utc() -> datetime:
    return datetime.now(UTC)
