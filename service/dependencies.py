"""Dependencies shared by every domain: settings, runtime, principal, roles."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from service.exceptions import DependencyUnavailable
from service.runtime import Runtime
from service.settings import Settings

# ``async def`` although nothing here awaits: FastAPI runs a sync dependency in the thread
# pool (a thread hop per request and dependency, ~8.5% of a cached search's CPU measured
# in bench/RESULTS.md); these only read app.state, so they run on the event loop.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise DependencyUnavailable("the service is still starting", dependency="service")
    return runtime


SettingsDep = Annotated[Settings, Depends(get_settings)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

AsyncDep = Callable[..., Coroutine[Any, Any, Any]]
