"""One :class:`~service.resilience.Guard` per dependency, and what counts as a transient
failure of each (retried) or a failure at all (counted by the breaker).

    guards = build_guards(settings.resilience)
    raw = await guards["opensearch"].call(search, timeout_s=0.8, deadline_s=0.8,
                                          is_transient=opensearch_transient)
"""

from __future__ import annotations

import asyncpg
import redis.exceptions
from aio_pika.exceptions import AMQPError
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from service import metrics
from service.deps.rabbitmq import BrokerMovedOn
from service.resilience import CircuitBreaker, Guard, RetryBudget, RetryPolicy
from service.settings import ResilienceSettings

DEPENDENCIES = ("opensearch", "postgres", "redis", "rabbitmq")
_RETRYABLE_HTTP = {429, 500, 502, 503, 504}


def opensearch_transient(exc: BaseException) -> bool:
    """Connection errors, timeouts, 5xx and 429; never another 4xx (a bad query)."""
    if isinstance(exc, TimeoutError | OpenSearchConnectionError | OSError):
        return True
    if isinstance(exc, TransportError):
        return exc.status_code in _RETRYABLE_HTTP or not isinstance(exc.status_code, int)
    return False


def postgres_transient(exc: BaseException) -> bool:
    """Connection loss and serialization failures (safe to retry a read or a whole txn)."""
    return isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.exceptions.SerializationError
        | asyncpg.exceptions.DeadlockDetectedError
        | asyncpg.exceptions.TooManyConnectionsError
        | OSError
        | TimeoutError,
    )


def postgres_failure(exc: BaseException) -> bool:
    """What the breaker counts: transient failures and statement timeouts, not bad input."""
    return postgres_transient(exc) or isinstance(exc, asyncpg.exceptions.QueryCanceledError)


def redis_failure(exc: BaseException) -> bool:
    return isinstance(
        exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError | OSError
    ) or isinstance(exc, TimeoutError)


def rabbitmq_failure(exc: BaseException) -> bool:
    return isinstance(exc, AMQPError | OSError | TimeoutError | ConnectionError)


def rabbitmq_moved_on(exc: BaseException) -> bool:
    """One broker of several missed its confirm and another is tried: not a failure."""
    return isinstance(exc, BrokerMovedOn)


def build_guards(settings: ResilienceSettings) -> dict[str, Guard]:
    guards: dict[str, Guard] = {}
    for name in DEPENDENCIES:
        breaker = CircuitBreaker(
            name,
            window_size=settings.breaker_window_size,
            min_calls=min(settings.breaker_min_calls, settings.breaker_window_size),
            failure_rate=settings.breaker_failure_rate,
            open_duration_s=settings.breaker_open_duration_s,
            half_open_calls=settings.breaker_half_open_calls,
            on_transition=metrics.record_transition,
        )
        metrics.set_breaker_state(name, breaker.state)
        guards[name] = Guard(
            breaker=breaker,
            budget=RetryBudget(
                ratio=settings.retry_budget_ratio,
                window_s=settings.retry_budget_window_s,
                min_retries=settings.retry_budget_min,
            ),
            retry=RetryPolicy(
                max_retries=settings.retry_max,
                base_s=settings.retry_base_s,
                max_s=settings.retry_max_s,
            ),
            on_call=metrics.record_call,
            on_retry=metrics.record_retry,
        )
    return guards
