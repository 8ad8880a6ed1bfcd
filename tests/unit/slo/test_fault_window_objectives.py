"""An experiment's own objectives inside its fault window: per endpoint and the
fallback answers it must have served."""

from __future__ import annotations

from gameday.slo import Figures, parse_slo
from gameday.slo.evaluate import judge_fault_window

SLO = parse_slo(
    """
experiments:
  redis-down:
    min_degraded_answers: 1
    endpoints:
      GET /v1/search: {error_rate_pct: 0}
      POST /v1/documents: {latency: {p99: 500ms}}
      DELETE /v1/documents/{id}: {latency: {p99: 500ms}}
"""
)


def _figures(*, count: int, errors: int = 0, p99_ms: float = 10.0, degraded: int = 0) -> Figures:
    return Figures(
        count=count,
        errors=errors,
        failures=errors,
        degraded=degraded,
        duration_s=10.0,
        rps=count / 10.0,
        error_rate_pct=100.0 * errors / count if count else 0.0,
        p50_ms=1.0,
        p90_ms=2.0,
        p95_ms=3.0,
        p99_ms=p99_ms,
        p99_9_ms=p99_ms,
        max_ms=p99_ms,
    )


def _judge(endpoints: dict[str, Figures], degraded: int) -> dict[str, tuple[bool, bool]]:
    results = judge_fault_window(
        SLO.for_experiment("redis-down"),
        _figures(count=100, degraded=degraded),
        endpoints,
        name="redis-down",
        phase="fault:redis-down",
    )
    assert {r.scope for r in results} == {"experiment:redis-down"}
    return {r.name: (r.passed, r.gating) for r in results}


def test_one_search_error_in_the_window_violates_the_search_endpoint_objective() -> None:
    verdicts = _judge(
        {
            "GET /v1/search": _figures(count=50, errors=1),
            "POST /v1/documents": _figures(count=5, errors=5, p99_ms=30.0),
        },
        degraded=3,
    )
    assert verdicts["experiment:redis-down GET /v1/search error rate [fault:redis-down]"] == (
        False,
        True,
    )
    # writes refused fast: the latency objective holds though every one failed
    assert verdicts["experiment:redis-down POST /v1/documents p99 latency [fault:redis-down]"] == (
        True,
        True,
    )
    assert verdicts["redis-down degraded answers"] == (True, True)


def test_an_endpoint_never_called_in_the_window_is_shown_but_not_judged() -> None:
    verdicts = _judge({"GET /v1/search": _figures(count=50)}, degraded=0)
    assert verdicts["experiment:redis-down DELETE /v1/documents/{id} [fault:redis-down]"] == (
        False,
        False,
    )
    assert verdicts["redis-down degraded answers"] == (False, True)
