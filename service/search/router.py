from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.dependencies import RuntimeDep
from service.search import service
from service.search.schemas import (
    AutocompleteParams,
    AutocompleteResponse,
    SearchParams,
    SearchResponse,
)
from service.tenants.dependencies import ReaderDep

router = APIRouter(prefix="/v1", tags=["search"])


@router.get("/search", response_model=SearchResponse)
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
async def autocomplete(
    params: Annotated[AutocompleteParams, Query()], principal: ReaderDep, runtime: RuntimeDep
) -> AutocompleteResponse:
    """Up to 10 titles of the caller's tenant matching the prefix as you type."""
    return await service.autocomplete(runtime, principal, params)
