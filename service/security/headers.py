"""Security headers on every response (errors, 404s and 500s included), and the
rate-limit headers of the request's decision.

    app = SecurityHeadersMiddleware(app, settings=settings.security)

The API answers JSON only, so its CSP allows nothing (``default-src 'none'``). The
Swagger UI and ReDoc pages (served only with ``SERVICE_PROFILE=dev``) load their
script and styles from the jsDelivr CDN and start with an inline script, so those two
paths get a CSP that allows exactly that and nothing else.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.settings import SecuritySettings

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'none'; "
    "script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src https://fonts.gstatic.com; "
    "connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


def security_headers(settings: SecuritySettings, *, docs: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", settings.referrer_policy.encode()),
        (b"content-security-policy", (DOCS_CSP if docs else API_CSP).encode()),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if settings.hsts_max_age_s > 0:
        value = f"max-age={settings.hsts_max_age_s}; includeSubDomains"
        headers.append((b"strict-transport-security", value.encode()))
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, settings: SecuritySettings) -> None:
        self.app = app
        self._api = security_headers(settings, docs=False)
        self._docs = security_headers(settings, docs=True)
        self._names = {name for name, _ in self._api}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._docs if scope.get("path") in DOCS_PATHS else self._api

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] not in self._names]
                headers.extend(extra)
                decision = (scope.get("state") or {}).get("ratelimit")
                if decision is not None:
                    present = {name for name, _ in headers}
                    headers.extend(h for h in decision.headers() if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
