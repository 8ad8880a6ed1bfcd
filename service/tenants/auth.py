"""Credentials: HS256 JWTs (sub, tenant, role, aud, iat, exp; ``kid`` in the header)
and hashed API keys.

token = issue_token(auth_settings, tenant="acme", role=Role.USER, ttl_s=3600)
principal = decode_token(auth_settings, token)   # raises Unauthorized

Tokens are signed with the key set's current key and checked with the key their ``kid``
names: an active key, or a retired one until its grace period ends (service.tenants.keys).
A token without ``kid`` is checked with the current key only.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from datetime import datetime

import jwt

from service.exceptions import Unauthorized
from service.settings import AuthSettings
from service.tenants.keys import SigningKey, now_utc
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
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + int(ttl_s),
        "jti": uuid.uuid4().hex,
    }
    key = settings.keyset.signing_key
    return jwt.encode(
        claims, key.secret, algorithm=settings.jwt_algorithm, headers={"kid": key.kid}
    )


def _verification_key(settings: AuthSettings, token: str, now: datetime) -> SigningKey:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    keyset = settings.keyset
    if kid is None:
        return keyset.signing_key
    key = keyset.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise Unauthorized(f"invalid token: unknown key id {str(kid)[:64]!r}")
    if not key.verifies_at(now):
        raise Unauthorized(f"invalid token: key {key.kid!r} was retired and its grace period ended")
    return key


def decode_token(settings: AuthSettings, token: str) -> Principal:
    key = _verification_key(settings, token, now_utc())
    try:
        claims = jwt.decode(
            token,
            key.secret,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_s,
            options={"require": ["sub", "tenant", "role", "exp", "iat", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise Unauthorized(f"token not yet valid: {exc}") from exc
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
