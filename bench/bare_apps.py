"""The bare ceilings for benchmark 3: the smallest apps uvicorn can serve, with the
same uvicorn settings as the service, so service/bare is the cost of the service.

    uvicorn --factory bench.bare_apps:fastapi_json_app      # FastAPI, JSONResponse
    uvicorn --factory bench.bare_apps:fastapi_orjson_app    # FastAPI, ORJSONResponse
    uvicorn --factory bench.bare_apps:starlette_app         # a bare Starlette route
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, ORJSONResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

# A body the size of a small search answer's envelope, so the encoder has work to do.
PAYLOAD: dict[str, Any] = {
    "total": 3,
    "took_ms": 2,
    "hits": [
        {"id": f"doc-{i}", "title": f"title {i}", "score": 1.5 - i / 10, "tags": ["a", "b"]}
        for i in range(3)
    ],
}


def fastapi_json_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/json", response_class=JSONResponse)
    async def hello() -> JSONResponse:
        return JSONResponse(PAYLOAD)

    return app


def fastapi_orjson_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/json", response_class=ORJSONResponse)
    async def hello() -> ORJSONResponse:
        return ORJSONResponse(PAYLOAD)

    return app


def starlette_app() -> Starlette:
    async def hello(request: Request) -> JSONResponse:
        return JSONResponse(PAYLOAD)

    return Starlette(routes=[Route("/json", hello)])
