"""One problem body shape (RFC 9457) for every error the service returns.

{"type": "https://gameday.dev/problems/not-found", "title": "Not found",
 "status": 404, "detail": "document 9f... not found"}
"""

from __future__ import annotations

import logging
import math
from typing import Any

import asyncpg
import opensearchpy
import redis.exceptions
from aio_pika.exceptions import AMQPError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.exceptions import DependencyUnavailable, RateLimited, ServiceError
from service.resilience import BreakerOpen

PROBLEM_TYPE_BASE = "https://gameday.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"
log = logging.getLogger("service.problems")

_HTTP_TITLES = {
    400: ("Bad request", "bad-request"),
    401: ("Unauthorized", "unauthorized"),
    403: ("Forbidden", "forbidden"),
    404: ("Not found", "not-found"),
    405: ("Method not allowed", "method-not-allowed"),
    406: ("Not acceptable", "not-acceptable"),
    413: ("Payload too large", "payload-too-large"),
    414: ("URI too long", "uri-too-long"),
    429: ("Too many requests", "rate-limited"),
    431: ("Request header fields too large", "header-fields-too-large"),
    415: ("Unsupported media type", "unsupported-media-type"),
    422: ("Invalid input", "invalid-input"),
}


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_slug: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + type_slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _describe_validation(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    parts: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid"))
        errors.append({"field": loc, "message": msg})
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts) or "invalid request", errors


async def _on_service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    extra = None
    if isinstance(exc, DependencyUnavailable):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
        extra = {"dependency": exc.dependency}
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
        extra = {"limit": exc.limit}
    if exc.status >= 500:
        log.warning("%s: %s", type(exc).__name__, exc.detail)
    return problem_response(
        exc.status, exc.title, exc.detail, type_slug=exc.type_slug, headers=headers, extra=extra
    )


async def _on_breaker_open(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BreakerOpen)
    return problem_response(
        503,
        "Dependency unavailable",
        f"{exc}; retry later",
        type_slug="dependency-unavailable",
        extra={"dependency": exc.dependency},
        headers={"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))},
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail, errors = _describe_validation(exc)
    return problem_response(
        422, "Invalid input", detail, type_slug="invalid-input", extra={"errors": errors}
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title, slug = _HTTP_TITLES.get(exc.status_code, ("Error", "error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route for {request.method} {request.url.path}"
    return problem_response(
        exc.status_code, title, detail, type_slug=slug, headers=dict(exc.headers or {}) or None
    )


async def _on_dependency_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("dependency failure on %s %s: %r", request.method, request.url.path, exc)
    return problem_response(
        503,
        "Dependency unavailable",
        f"a dependency failed: {type(exc).__name__}; retry later",
        type_slug="dependency-unavailable",
        headers={"Retry-After": "1"},
    )


async def _on_data_error(request: Request, exc: Exception) -> JSONResponse:
    # A value PostgreSQL refuses that our validators let through: the caller's fault.
    return problem_response(
        422, "Invalid input", f"value rejected by the database: {exc}", type_slug="invalid-input"
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(500, "Internal error", "unexpected error", type_slug="internal")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _on_service_error)
    app.add_exception_handler(BreakerOpen, _on_breaker_open)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(asyncpg.DataError, _on_data_error)
    for dep_error in (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        OSError,
        TimeoutError,
        redis.exceptions.RedisError,
        AMQPError,
        opensearchpy.exceptions.OpenSearchException,
    ):
        app.add_exception_handler(dep_error, _on_dependency_error)
    app.add_exception_handler(Exception, _on_unexpected)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; some problems add fields (errors, dependency).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "additionalProperties": True,
}


def document_problems(app: FastAPI) -> None:
    """Says in the OpenAPI what the handlers above really send: every error is a problem
    body (``application/problem+json``), the 422s included (FastAPI documents those as
    ``application/json`` HTTPValidationError, which is never what a client gets)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        problem = {
            "description": "Problem details",
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {**problem, "description": "Invalid input"}
                responses.setdefault("default", problem)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
