from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.routing import APIRoute

from service.dependencies import RuntimeDep, get_runtime
from service.routing import Handler, LeanRoute, QueryParser, json_response, serve_with
from service.search import service
from service.search.schemas import (
    AutocompleteParams,
    AutocompleteResponse,
    SearchParams,
    SearchResponse,
)
from service.tenants.dependencies import ReaderDep, get_principal

router = APIRouter(prefix="/v1", tags=["search"], route_class=LeanRoute)


def reader_handler(route: APIRoute) -> Handler:
    """``(params, principal: ReaderDep, runtime: RuntimeDep)`` resolved as FastAPI
    would: the caller (authenticated, then rate limited), the runtime, then the query."""
    parser = QueryParser(route, "params")
    endpoint = route.endpoint

    async def handle(request: Request) -> Response:
        principal = await get_principal(request)
        runtime = await get_runtime(request)
        params = parser.parse(request)
        return json_response(await endpoint(params=params, principal=principal, runtime=runtime))

    return handle


@router.get("/search", response_model=SearchResponse)
@serve_with(reader_handler)
async def search(
    params: Annotated[SearchParams, Query()], principal: ReaderDep, runtime: RuntimeDep
) -> Response:
    """Full text over title (boosted) and body; filters in filter context; cached per tenant.
    With OpenSearch failing: the last good result, ``degraded`` and ``X-Degraded``; or 503."""
    # The body is a SearchResponse serialized once by the service (response_model documents
    # it); returning it as is spares FastAPI validating and dumping it again.
    answer = await service.search(runtime, principal, params)
    headers = {"X-Degraded": answer.degraded} if answer.degraded else None
    return Response(answer.body, media_type="application/json", headers=headers)


@router.get("/autocomplete", response_model=AutocompleteResponse)
@serve_with(reader_handler)
async def autocomplete(
    params: Annotated[AutocompleteParams, Query()], principal: ReaderDep, runtime: RuntimeDep
) -> AutocompleteResponse:
    """Up to 10 titles of the caller's tenant matching the prefix as you type."""
    return await service.autocomplete(runtime, principal, params)
