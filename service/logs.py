"""Structured logs: one JSON object per line, with the request's context, personal data
masked.

    configure_logging(ObservabilitySettings())     # in the app factory (and the indexer)
    {"ts": "2026-...Z", "level": "info", "logger": "service.access", "msg": "request",
     "request_id": "9f2c...", "tenant": "tenant-1", "user": "u***", "route": "/v1/search",
     "method": "GET", "status": 200, "latency_ms": 12.4}

The request id comes from ``X-Request-ID`` (or is generated) and is echoed back by
:class:`RequestContextMiddleware`, which also writes the access line. Emails, phone
numbers and subject ids are masked in every message and field.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.settings import ObservabilitySettings

# A dict, mutated in place: what a dependency binds (the tenant) is seen by the middleware
# even when the framework ran the dependency in a copied context.
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "request_context", default=None
)
_CONTEXT_KEYS = ("request_id", "tenant", "user", "route")


def bind(**values: str) -> None:
    """Adds ``tenant=...``, ``user=...`` to the current request's log context."""
    ctx = _context.get()
    if ctx is not None:
        ctx.update(values)


def current_request_id() -> str | None:
    ctx = _context.get()
    return ctx.get("request_id") if ctx else None


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Digits with spaces, dashes or brackets; dots are left out so that IPs stay readable.
_PHONE = re.compile(r"(?<![\w.:-])\+?\d[\d ()-]{7,}\d(?![\w.-])")
_SUBJECT = re.compile(r"(subject(?:_id)?[\"']?\s*[:=/]\s*[\"']?)([^\s\"',}/&]+)", re.IGNORECASE)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def mask(text: str) -> str:
    """Emails, phone numbers and ``subject_id=...`` values replaced by ``***``."""
    text = _EMAIL.sub("***@***", text)
    text = _SUBJECT.sub(lambda m: f"{m.group(1)}***", text)
    return _PHONE.sub("***", text)


def mask_user(user: str | None) -> str | None:
    if user is None:
        return None
    if _EMAIL.search(user) or _PHONE.search(user):
        return "***"
    return user


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: ("***" if "subject" in str(k).lower() else _masked(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        ctx = _context.get() or {}
        for key in _CONTEXT_KEYS:
            value = ctx.get(key)
            if value is not None:
                doc[key] = mask_user(value) if key == "user" else value
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                doc[key] = _masked(value)
        if record.exc_info:
            doc["exc"] = mask(self.formatException(record.exc_info))
        return orjson.dumps(doc, default=str).decode()


def configure_logging(settings: ObservabilitySettings) -> None:
    """One stderr handler on the root logger in the chosen format, unless the host
    process configured the root logger already (pytest does; uvicorn does not)."""
    root = logging.getLogger()
    if root.handlers and not any(getattr(h, "_gameday", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler._gameday = True  # type: ignore[attr-defined]  # marks our own handler
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    logging.getLogger("opensearch").setLevel(logging.WARNING)  # one line per request otherwise
    # uvicorn's own loggers go through the root handler, in the same format.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


access_log = logging.getLogger("service.access")


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    """Request id in and out, context for the logs, the access line and HTTP metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        ctx = {"request_id": request_id}
        token = _context.set(ctx)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            latency_s = time.perf_counter() - started
            route = _route_template(scope)
            status_class = f"{status // 100}xx"
            method = str(scope.get("method", ""))
            if route not in ("/metrics",):
                metrics.http_requests.labels(route, method, status_class).inc()
                metrics.http_latency.labels(route, method, status_class).observe(latency_s)
            ctx["route"] = route
            if not route.startswith("/health") and route != "/metrics":
                access_log.info(
                    "request",
                    extra={
                        "method": method,
                        "status": status,
                        "latency_ms": round(latency_s * 1000, 2),
                        "synthetic": dict(scope.get("headers") or []).get(b"x-synthetic")
                        is not None,
                    },
                )
            _context.reset(token)
