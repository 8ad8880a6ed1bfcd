"""Credentials: HS256 JWTs (sub, tenant, role, exp) and hashed API keys.

token = issue_token(auth_settings, tenant="acme", role=Role.USER, ttl_s=3600)
principal = decode_token(auth_settings, token)   # raises Unauthorized
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid

import jwt

from service.exceptions import Unauthorized
from service.settings import AuthSettings
from service.tenants.schemas import TENANT_PATTERN, Principal, Role

_TENANT = re.compile(TENANT_PATTERN)
API_KEY_PREFIX = "gdk_"


def issue_token(
    settings: AuthSettings,
    *,
    tenant: str,
    role: Role | str,
    ttl_s: float,
    subject: str | None = None,
) -> str:
    if not _TENANT.match(tenant):
        raise ValueError(f"tenant {tenant!r} must match {TENANT_PATTERN}")
    role = Role(role)
    now = int(time.time())
    claims = {
        "sub": subject or f"cli:{tenant}",
        "tenant": tenant,
        "role": role.value,
        "iat": now,
        "exp": now + int(ttl_s),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.jwt_key, algorithm=settings.jwt_algorithm)


def decode_token(settings: AuthSettings, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_key,
            algorithms=[settings.jwt_algorithm],
            leeway=settings.jwt_leeway_s,
            options={"require": ["sub", "tenant", "role", "exp"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    tenant, role, sub = claims.get("tenant"), claims.get("role"), claims.get("sub")
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise Unauthorized("invalid token: bad tenant claim")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("invalid token: bad sub claim")
    try:
        parsed_role = Role(str(role))
    except ValueError as exc:
        raise Unauthorized(f"invalid token: unknown role {role!r}") from exc
    return Principal(subject=sub, tenant=tenant, role=parsed_role, via="jwt")


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # The key is 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
