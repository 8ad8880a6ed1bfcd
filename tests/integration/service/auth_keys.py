"""The signing key set the session's service runs with: the development key is current
(so ``ServiceUnderTest.token`` works unchanged), one retired key is still in its grace
period, one is past it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt

from service.settings import DEV_JWT_KEY

GRACE_KID, GRACE_SECRET = "k-grace", "retired-but-in-grace-" + "g" * 32
EXPIRED_KID, EXPIRED_SECRET = "k-expired", "retired-and-past-grace-" + "e" * 32
AUDIENCE = "gameday-service"


def write_keyset(directory: Path) -> Path:
    path = directory / "keys.yaml"
    path.write_text(
        "current: dev\n"
        "keys:\n"
        f"  - {{kid: dev, secret: {DEV_JWT_KEY}}}\n"
        f"  - {{kid: {GRACE_KID}, secret: {GRACE_SECRET}, status: retired,\n"
        "     grace_until: '2099-01-01T00:00:00Z'}\n"
        f"  - {{kid: {EXPIRED_KID}, secret: {EXPIRED_SECRET}, status: retired,\n"
        "     grace_until: '2020-01-01T00:00:00Z'}\n"
    )
    return path


def sign(
    tenant: str, *, key: str | None, kid: str | None, alg: str = "HS256", **claims: Any
) -> str:
    """A token with the given claims over sensible defaults (``None`` drops a claim)."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": "matrix",
        "tenant": tenant,
        "role": "admin",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid} if kid else None)
