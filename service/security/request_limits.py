"""Transport limits, enforced before any route runs, each answered with a problem body
that names the setting it hit:

    431  request headers over SERVICE_HTTP_MAX_HEADER_BYTES
    414  query string over SERVICE_HTTP_MAX_QUERY_BYTES
    413  body over SERVICE_HTTP_MAX_BODY_BYTES (bulk: SERVICE_HTTP_MAX_BULK_BODY_BYTES),
         declared (Content-Length) or counted (chunked)
    408  body not received within SERVICE_HTTP_BODY_TIMEOUT_S (slowloris-style trickles)
    504  no response within SERVICE_HTTP_REQUEST_TIMEOUT_S (the request is cancelled)

A request with a body has it read here, under the body deadline, then replayed to the
app; a request without one (every search) costs a few comparisons. Bodies are never
parsed here. Limits that are part of the API contract (page size, bulk size, query text
length) live in the schemas, so the OpenAPI document states them; they answer 422
naming the field.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.problems import problem_response
from service.settings import HttpSettings


class _Rejected(Exception):
    def __init__(self, status: int, title: str, slug: str, detail: str, limit: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.slug, self.detail, self.limit = (
            status,
            title,
            slug,
            detail,
            limit,
        )


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, limits: HttpSettings) -> None:
        self.app = app
        self.limits = limits

    def _body_limit(self, path: str) -> tuple[int, str]:
        if path.endswith("/_bulk"):
            return self.limits.max_bulk_body_bytes, "max_bulk_body_bytes"
        return self.limits.max_body_bytes, "max_body_bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._check(scope, receive)
        except _Rejected as exc:
            await self._reject(scope, receive, send, exc)
            return
        await self._run_with_deadline(scope, receive, send)

    async def _check(self, scope: Scope, receive: Receive) -> Receive:
        limits = self.limits
        headers = scope.get("headers") or []
        header_bytes = sum(len(name) + len(value) + 4 for name, value in headers)
        if header_bytes > limits.max_header_bytes:
            raise _Rejected(
                431,
                "Request header fields too large",
                "header-fields-too-large",
                f"request headers exceed {limits.max_header_bytes} bytes "
                "(SERVICE_HTTP_MAX_HEADER_BYTES)",
                "max_header_bytes",
            )
        if len(scope.get("query_string", b"")) > limits.max_query_bytes:
            raise _Rejected(
                414,
                "URI too long",
                "uri-too-long",
                f"query string exceeds {limits.max_query_bytes} bytes "
                "(SERVICE_HTTP_MAX_QUERY_BYTES)",
                "max_query_bytes",
            )
        declared: int | None = None
        chunked = False
        for name, value in headers:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and not declared:
            return receive  # no body: nothing to read or bound
        limit, setting = self._body_limit(scope.get("path", ""))
        too_large = _Rejected(
            413,
            "Payload too large",
            "payload-too-large",
            f"request body exceeds {limit} bytes (SERVICE_HTTP_{setting.upper()})",
            setting,
        )
        if declared is not None and declared > limit:
            raise too_large
        return await self._read_body(receive, limit, too_large)

    async def _read_body(self, receive: Receive, limit: int, too_large: _Rejected) -> Receive:
        chunks: list[bytes] = []
        received = 0
        timeout_s = self.limits.body_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return receive  # disconnected: let the app see it
                    body = message.get("body", b"")
                    received += len(body)
                    if received > limit:
                        raise too_large
                    chunks.append(body)
                    if not message.get("more_body", False):
                        break
        except TimeoutError as exc:
            raise _Rejected(
                408,
                "Request timeout",
                "request-timeout",
                f"request body not received within {timeout_s:g} s "
                f"({received} bytes arrived; SERVICE_HTTP_BODY_TIMEOUT_S)",
                "body_timeout_s",
            ) from exc
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return replay

    async def _run_with_deadline(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        timeout_s = self.limits.request_timeout_s
        begun = time.monotonic()
        try:
            async with asyncio.timeout(timeout_s) as deadline:
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if not deadline.expired() or started:
                raise  # not our deadline, or too late to answer with a problem
            rejected = _Rejected(
                504,
                "Request timeout",
                "deadline-exceeded",
                f"no response within {timeout_s:g} s (SERVICE_HTTP_REQUEST_TIMEOUT_S); "
                f"gave up after {time.monotonic() - begun:.2f} s",
                "request_timeout_s",
            )
            await self._reject(scope, receive, send, rejected)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, exc: _Rejected) -> None:
        headers = {"Connection": "close"} if exc.status in (408, 413) else None
        if exc.status == 504:
            headers = {"Retry-After": "1"}
        response = problem_response(
            exc.status,
            exc.title,
            exc.detail,
            type_slug=exc.slug,
            extra={"limit": exc.limit},
            headers=headers,
        )
        await response(scope, receive, send)
