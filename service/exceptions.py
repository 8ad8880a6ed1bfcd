"""Errors of the reference service. Routers raise these; ``service.problems`` maps
each to one RFC 9457 problem body in one place.

    ServiceError
    ├── Unauthorized          401  missing, expired or bad credentials
    ├── Forbidden             403  the role may not do this
    ├── NotFound              404  unknown id, or another tenant's id (never 403)
    ├── PayloadTooLarge       413  request body over the limit
    ├── InvalidInput          422  semantically wrong input the schema cannot express
    ├── RateLimited           429  a tenant's or caller's rate limit is spent
    └── DependencyUnavailable 503  PostgreSQL, Redis, RabbitMQ or OpenSearch failed
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 500
    title = "Internal error"
    type_slug = "internal"

    def __init__(self, detail: str, *, tenant: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.tenant = tenant


class Unauthorized(ServiceError):
    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class NotFound(ServiceError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class PayloadTooLarge(ServiceError):
    status = 413
    title = "Payload too large"
    type_slug = "payload-too-large"


class InvalidInput(ServiceError):
    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"


class DependencyUnavailable(ServiceError):
    status = 503
    title = "Dependency unavailable"
    type_slug = "dependency-unavailable"

    def __init__(
        self,
        detail: str,
        *,
        dependency: str,
        tenant: str | None = None,
        retry_after_s: float = 1.0,
    ) -> None:
        super().__init__(detail, tenant=tenant)
        self.dependency = dependency
        self.retry_after_s = retry_after_s


class RateLimited(ServiceError):
    """``limit`` names the bucket (``tenant`` or ``caller``); the RateLimit-* headers come
    from the decision the security middleware writes out."""

    status = 429
    title = "Too many requests"
    type_slug = "rate-limited"

    def __init__(
        self, detail: str, *, limit: str, retry_after_s: float, tenant: str | None = None
    ) -> None:
        super().__init__(detail, tenant=tenant)
        self.limit = limit
        self.retry_after_s = retry_after_s
