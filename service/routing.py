"""Hot routes served without FastAPI's dependency solving on every request.

    router = APIRouter(prefix="/v1", route_class=LeanRoute)

    @router.get("/search", response_model=SearchResponse)
    @serve_with(reader_handler)            # how a request reaches the endpoint below
    async def search(params: Annotated[SearchParams, Query()], principal: ReaderDep,
                     runtime: RuntimeDep) -> Response: ...

A :class:`LeanRoute` is an ``APIRoute`` like any other: the OpenAPI document, the route
template in the scope (metrics, access lines), the middleware and the exception handlers
are the same. Only its handler differs when the endpoint names one with
:func:`serve_with`: the handler resolves the arguments itself, in FastAPI's order
(dependencies first, then the query parameters, validated by FastAPI's own function, so
errors read the same), and calls the endpoint. FastAPI's per-request solving was ~45% of
a cached search's CPU (bench/RESULTS.md, issue 17).

Query parameters are validated once per distinct query string (:class:`QueryParser`):
a repeated search reuses the model built for the first one.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from cachetools import LRUCache
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
HandlerFactory = Callable[[APIRoute], Handler]
F = TypeVar("F", bound=Callable[..., Any])

_QUERY_CACHE_SIZE = 2048


def serve_with(factory: HandlerFactory) -> Callable[[F], F]:
    """Marks an endpoint of a :class:`LeanRoute` to be served by ``factory(route)``."""

    def mark(endpoint: F) -> F:
        endpoint.lean_handler = factory  # type: ignore[attr-defined]
        return endpoint

    return mark


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        factory: HandlerFactory | None = getattr(self.endpoint, "lean_handler", None)
        if factory is None:
            return super().get_route_handler()
        return factory(self)


class QueryParser:
    """The endpoint's query-parameter model (the one argument ``name``), validated by
    FastAPI's own function and kept per raw query string (valid ones only; the models
    are never mutated after validation)."""

    def __init__(self, route: APIRoute, name: str, *, maxsize: int = _QUERY_CACHE_SIZE) -> None:
        self._fields = route.dependant.query_params
        names = [f.name for f in self._fields]
        if names != [name]:
            raise TypeError(f"{route.path}: expected the one query model {name!r}, got {names}")
        self._name = name
        self._models: LRUCache[bytes, Any] = LRUCache(maxsize=maxsize)

    def parse(self, request: Request) -> Any:
        raw: bytes = request.scope.get("query_string", b"")
        model = self._models.get(raw)
        if model is not None:
            return model
        values, errors = request_params_to_args(self._fields, request.query_params)
        if errors:
            raise RequestValidationError(errors, body=None)
        model = self._models[raw] = values[self._name]
        return model


def json_response(result: Any) -> Response:
    """What FastAPI answers for an endpoint that returns a pydantic model (or a
    Response, passed through)."""
    if isinstance(result, Response):
        return result
    return Response(result.model_dump_json(), media_type="application/json")
