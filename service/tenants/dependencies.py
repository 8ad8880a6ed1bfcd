"""``PrincipalDep`` authenticates; ``require_role(...)`` authorizes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from cachetools import TTLCache
from fastapi import Depends, Request

from service import audit
from service.dependencies import SettingsDep
from service.exceptions import Forbidden, Unauthorized
from service.logs import bind
from service.runtime import Runtime
from service.security.ratelimit import enforce_rate_limit
from service.tenants.auth import API_KEY_PREFIX, decode_token, hash_api_key
from service.tenants.schemas import Principal, Role

log = logging.getLogger("service.auth")
# Revoked keys stop working within this TTL in every worker.
_api_key_cache: TTLCache[str, Principal] = TTLCache(maxsize=4096, ttl=10.0)


def _audit_rejection(
    request: Request, action: str, reason: str, principal: Principal | None
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


async def get_principal(request: Request, settings: SettingsDep) -> Principal:
    principal = await _authenticate(request, settings)
    bind(tenant=principal.tenant, user=principal.subject)
    await enforce_rate_limit(request, principal)
    return principal


async def _authenticate(request: Request, settings: SettingsDep) -> Principal:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    try:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("Authorization header must be 'Bearer <token>'")
            return decode_token(settings.auth, token.strip())
        if api_key:
            if not api_key.startswith(API_KEY_PREFIX):
                raise Unauthorized("malformed API key")
            return await _principal_from_api_key(runtime, api_key)
        raise Unauthorized("missing credentials: send 'Authorization: Bearer <token>' or X-API-Key")
    except Unauthorized as exc:
        _audit_rejection(request, "auth_failed", exc.detail, None)
        raise


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_role(*roles: Role) -> Callable[[Principal, Request], Principal]:
    allowed = frozenset(roles)

    def check(principal: PrincipalDep, request: Request) -> Principal:
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
