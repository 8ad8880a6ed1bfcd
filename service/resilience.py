"""Our named resilience policies, built on tenacity's strategies.

wait = indexer_backoff(initial_s=0.2, max_s=5.0)
wait_s = backoff_s(wait, attempt=3)      # 0.8s, capped at 5s, with jitter
"""

from __future__ import annotations

import tenacity
from tenacity.wait import wait_base


def indexer_backoff(*, initial_s: float, max_s: float) -> wait_base:
    """Exponential from ``initial_s``, doubled each attempt, capped at ``max_s``, jittered."""
    return tenacity.wait_exponential_jitter(multiplier=initial_s, max=max_s, jitter=initial_s / 2)


def backoff_s(wait: wait_base, *, attempt: int) -> float:
    state = tenacity.RetryCallState(
        retry_object=tenacity.AsyncRetrying(), fn=None, args=(), kwargs={}
    )
    state.attempt_number = attempt
    return float(wait(state))
