"""``PrincipalDep`` authenticates; ``require_role(...)`` authorizes.

A verified token's principal is kept (:class:`JwtPrincipalCache`, one per app) until the
token expires, and at most ``JWT_CACHE_MAX_AGE_S``: a token sent again is not verified
again. A key retired from the key set therefore stops working within that bound.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

import orjson
from cachetools import TLRUCache, TTLCache
from fastapi import Depends, Request

from service import audit
from service.exceptions import Forbidden, RateLimited, Unauthorized
from service.logs import bind
from service.runtime import Runtime
from service.security.ratelimit import enforce_rate_limit
from service.settings import AuthSettings, Settings
from service.tenants.auth import API_KEY_PREFIX, decode_token, hash_api_key
from service.tenants.schemas import Principal, Role

log = logging.getLogger("service.auth")
# Revoked keys stop working within this TTL in every worker.
_api_key_cache: TTLCache[str, Principal] = TTLCache(maxsize=4096, ttl=10.0)
JWT_CACHE_MAX_AGE_S = 30.0
JWT_CACHE_SIZE = 10_000


def _expiry_of(token: str) -> float | None:
    """The ``exp`` claim of a token that was verified already (no check here)."""
    try:
        payload = token.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):  # binascii.Error and orjson's error are ValueErrors
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return float(exp)
    return None


class JwtPrincipalCache:
    """Principals of verified tokens, keyed by the token, bounded in size; an entry
    expires at the token's ``exp`` (the leeway is left to ``decode_token``) and at most
    ``max_age_s`` after it was verified.

        cache = JwtPrincipalCache()
        principal = cache.principal(settings.auth, token)   # raises Unauthorized
    """

    def __init__(
        self,
        *,
        maxsize: int = JWT_CACHE_SIZE,
        max_age_s: float = JWT_CACHE_MAX_AGE_S,
        timer: Callable[[], float] = time.time,
    ) -> None:
        self._max_age_s = max_age_s
        self._entries: TLRUCache[str, tuple[Principal, float]] = TLRUCache(
            maxsize=maxsize, ttu=self._expires_at, timer=timer
        )

    def _expires_at(self, _token: str, entry: tuple[Principal, float], now: float) -> float:
        return min(entry[1], now + self._max_age_s)

    def principal(self, settings: AuthSettings, token: str) -> Principal:
        entry = self._entries.get(token)
        if entry is not None:
            return entry[0]
        principal = decode_token(settings, token)
        exp = _expiry_of(token)
        if exp is not None:  # an entry already expired is not stored (TLRUCache)
            self._entries[token] = (principal, exp)
        return principal

    def __len__(self) -> int:
        return len(self._entries)


def _jwt_cache(request: Request) -> JwtPrincipalCache:
    state = request.app.state
    cache: JwtPrincipalCache | None = getattr(state, "jwt_principals", None)
    if cache is None:  # one per app, created on its first token: apps differ in keys
        cache = state.jwt_principals = JwtPrincipalCache()
    return cache


def _audit_rejection(
    request: Request,
    action: str,
    reason: str,
    principal: Principal | None,
    *,
    at_most_every_s: float = 0.0,
) -> None:
    """Best effort and bounded (service.audit.record): a flood of bad credentials cannot
    pile up database writes, and a failing insert never changes the 401/403."""
    audit.record(
        getattr(request.app.state, "runtime", None),
        action=action,
        outcome="rejected",
        tenant=principal.tenant if principal else None,
        actor=principal.subject if principal else None,
        detail={
            "reason": reason[:200],
            "path": audit.safe_path(request.url.path),
            "method": request.method,
        },
        at_most_every_s=at_most_every_s,
    )


async def _principal_from_api_key(runtime: Runtime | None, key: str) -> Principal:
    key_hash = hash_api_key(key)
    cached = _api_key_cache.get(key_hash)
    if cached is not None:
        return cached
    if runtime is None:
        raise Unauthorized("API keys cannot be checked while the service starts")
    row = await runtime.pool.fetchrow(
        "SELECT id, tenant_id, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > now())",  # a rotated key, past its overlap
        key_hash,
    )
    if row is None:
        raise Unauthorized("unknown, revoked or expired API key")
    principal = Principal(
        subject=f"api-key:{row['id']}",
        tenant=row["tenant_id"],
        role=Role(row["role"]),
        via="api-key",
    )
    _api_key_cache[key_hash] = principal
    return principal


async def get_principal(request: Request) -> Principal:
    # The settings are read here rather than through SettingsDep: one dependency less
    # for FastAPI to solve on every request.
    settings: Settings = request.app.state.settings
    principal = await _authenticate(request, settings)
    bind(tenant=principal.tenant, user=principal.subject)
    try:
        await enforce_rate_limit(request, principal)
    except RateLimited as exc:
        # a flood of 429s: one row per tenant and caller per second, counting the rest
        reason = f"over the {exc.limit} limit"
        _audit_rejection(request, "rate_limited", reason, principal, at_most_every_s=1.0)
        raise
    return principal


async def _authenticate(request: Request, settings: Settings) -> Principal:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    try:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("Authorization header must be 'Bearer <token>'")
            return _jwt_cache(request).principal(settings.auth, token.strip())
        if api_key:
            if not api_key.startswith(API_KEY_PREFIX):
                raise Unauthorized("malformed API key")
            return await _principal_from_api_key(runtime, api_key)
        raise Unauthorized("missing credentials: send 'Authorization: Bearer <token>' or X-API-Key")
    except Unauthorized as exc:
        _audit_rejection(request, "auth_failed", exc.detail, None)
        raise


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_role(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    allowed = frozenset(roles)

    async def check(principal: PrincipalDep, request: Request) -> Principal:
        if principal.role not in allowed:
            denied = Forbidden(
                f"role {principal.role.value!r} may not do this; "
                f"needs one of {', '.join(sorted(r.value for r in allowed))}",
                tenant=principal.tenant,
            )
            _audit_rejection(request, "access_denied", denied.detail, principal)
            raise denied
        return principal

    return check


ReaderDep = PrincipalDep
WriterDep = Annotated[Principal, Depends(require_role(Role.ADMIN, Role.USER))]
AdminDep = Annotated[Principal, Depends(require_role(Role.ADMIN))]
