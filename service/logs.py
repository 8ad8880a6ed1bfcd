"""Structured logs: one JSON object per line, with the request's context, personal data
masked.

    configure_logging(ObservabilitySettings())     # in the app factory (and the indexer)
    {"ts": "2026-...Z", "level": "info", "logger": "service.access", "msg": "request",
     "request_id": "9f2c...", "tenant": "tenant-1", "user": "u***", "route": "/v1/search",
     "method": "GET", "status": 200, "latency_ms": 12.4}

The request id comes from ``X-Request-ID`` (or is generated) and is echoed back by
:class:`RequestContextMiddleware`, which also writes the access line. Emails, phone
numbers and subject ids are masked in every message and field.

Every request gets its access line by default. ``SERVICE_LOG_ACCESS_SAMPLE=0.1`` keeps
one in ten of the fast successful ones (below 400 and under ``SERVICE_LOG_ACCESS_SLOW_MS``);
errors and slow requests are always logged. What a line costs: bench/RESULTS.md.
"""

from __future__ import annotations

import contextvars
import logging
import random
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

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
_SUBJECT = re.compile(r"(subjects?(?:_id)?[\"']?\s*[:=/]\s*[\"']?)([^\s\"',}/&]+)", re.IGNORECASE)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def mask(text: str) -> str:
    """Emails, phone numbers and ``subject_id=...`` values replaced by ``***``."""
    if "%" in text:  # access lines carry URLs: jane%40example.com is still an email
        text = unquote(text)
    text = _EMAIL.sub("***@***", text)
    text = _SUBJECT.sub(lambda m: f"{m.group(1)}***", text)
    return _PHONE.sub("***", text)


def mask_user(user: str | None) -> str | None:
    if user is None:
        return None
    if _EMAIL.search(user) or _PHONE.search(user):
        return "***"
    return user


_PLAIN = (int, float, bool, type(None))


def _masked(value: Any) -> Any:
    if type(value) in _PLAIN:  # most fields of the access line: nothing to mask
        return value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: ("***" if "subject" in str(k).lower() else _masked(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


_second_prefix: tuple[int, str] = (-1, "")


def format_ts(created: float) -> str:
    """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``,
    the same text (rounding included) at a fraction of the cost: the part down to the
    second is kept from the previous call."""
    global _second_prefix
    second, fraction = divmod(created, 1.0)
    micros = round(fraction * 1e6)  # what datetime.fromtimestamp does
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    whole = int(second)
    if _second_prefix[0] != whole:
        text = datetime.fromtimestamp(whole, UTC).isoformat(timespec="seconds")
        _second_prefix = (whole, text[:-6])  # without "+00:00"
    return f"{_second_prefix[1]}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": format_ts(record.created),
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


def _log_access(fields: dict[str, Any]) -> None:
    """``access_log.info("request", extra=fields)`` without looking up the caller's frame
    (``findCaller``: the JSON line has no file or line) and with no ``extra`` checks."""
    record = access_log.makeRecord(access_log.name, logging.INFO, "", 0, "request", (), None)
    record.__dict__.update(fields)
    access_log.handle(record)


class RequestContextMiddleware:
    """Request id in and out, context for the logs, the access line and HTTP metrics.

    The access line's sampling comes from the app's ``settings.logging`` (read on the
    first request: ``scope["app"]`` is the application this middleware serves)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._sample: float | None = None
        self._slow_ms = 0.0
        # labels() takes a lock and checks the label values on every call: the children
        # of each (route template, method, status class) are kept instead.
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def _load_sampling(self, scope: Scope) -> float:
        settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
        observability = getattr(settings, "logging", None)
        self._slow_ms = float(getattr(observability, "access_slow_ms", 0.0))
        self._sample = float(getattr(observability, "access_sample", 1.0))
        return self._sample

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        synthetic = False
        for name, value in scope.get("headers") or ():
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"x-synthetic":
                synthetic = True
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
            if route != "/metrics":
                labels = (route, method, status_class)
                children = self._children.get(labels)
                if children is None:
                    children = self._children[labels] = (
                        metrics.http_requests.labels(*labels),
                        metrics.http_latency.labels(*labels),
                    )
                children[0].inc()
                children[1].observe(latency_s)
            ctx["route"] = route
            latency_ms = round(latency_s * 1000, 2)
            sample = self._sample if self._sample is not None else self._load_sampling(scope)
            if (
                access_log.isEnabledFor(logging.INFO)
                and not route.startswith("/health")
                and route != "/metrics"
                and (
                    sample >= 1.0
                    or status >= 400
                    or latency_ms >= self._slow_ms
                    or random.random() < sample
                )
            ):
                _log_access(
                    {
                        "method": method,
                        "status": status,
                        "latency_ms": latency_ms,
                        "synthetic": synthetic,
                    }
                )
            _context.reset(token)
