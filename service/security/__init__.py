"""Abuse limits and security headers of the reference service.

RateLimiter               token buckets per tenant and per caller, in Redis
RequestLimitsMiddleware   header, query and body size; body-read and request deadlines
SecurityHeadersMiddleware HSTS, nosniff, DENY, CSP, Referrer-Policy; RateLimit-* headers
"""

from __future__ import annotations

from service.security.headers import SecurityHeadersMiddleware
from service.security.ratelimit import Decision, Quota, RateLimiter
from service.security.request_limits import RequestLimitsMiddleware

__all__ = [
    "Decision",
    "Quota",
    "RateLimiter",
    "RequestLimitsMiddleware",
    "SecurityHeadersMiddleware",
]
