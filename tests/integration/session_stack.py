"""The session stack with some of its servers stopped for a module's while:

    with session_components_stopped(stack, ["opensearch"]):
        ...  # a private three-node search cluster, never beside the session's node

A private cluster's module must never run beside the session's own OpenSearch or
RabbitMQ (issue 19: three JVMs and a fourth would share two cores). Afterwards the
whole session stack is started again, and the block waits until the session service
answers ready with no breaker open, so the next module starts from a steady state.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from gameday.chaos.breakers import SignalsUnreachable, scrape
from gameday.settings import StackSettings
from gameday.stack import supervisor

STEADY_TIMEOUT_S = 90.0
BREAKER_STATE = "service_breaker_state"
OPEN = 2.0  # service_breaker_state: 0 closed, 1 half-open, 2 open


def _progress(line: str) -> None:
    sys.stderr.write(f"[stack] {line}\n")


@contextmanager
def session_components_stopped(settings: StackSettings, names: list[str]) -> Iterator[None]:
    supervisor.down(settings, _progress, only=names)
    try:
        yield
    finally:
        supervisor.up(settings, _progress)
        _wait_steady(settings)


def _breaker_states(url: str) -> list[float]:
    return [value for name, _, value in scrape(f"{url}/metrics") if name == BREAKER_STATE]


def _wait_steady(settings: StackSettings) -> None:
    url = f"http://{settings.host}:{settings.service_port}"
    deadline = time.monotonic() + STEADY_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"{url}/health/ready", timeout=5)
            states = _breaker_states(url)
            # half-open (1) is steady enough: a breaker whose dependency came back waits
            # for its next call (the relay's, at the next write) to close
            if ready.status_code == 200 and states and OPEN not in states:
                return
            last = f"ready {ready.status_code}, breaker states {states}"
        except (httpx.HTTPError, SignalsUnreachable) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)  # the interval between polls of the condition, not a wait for it
    raise AssertionError(
        f"the session service is not steady {STEADY_TIMEOUT_S:.0f}s after the restart: {last}"
    )
