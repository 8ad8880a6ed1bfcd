"""matrix.json is a view of the summary: each cell's word from its fault window, its
experiment's own RTO objective (by the objective's `experiment` field) and how its
experiment ended."""

from __future__ import annotations

from typing import Any

from gameday.report.matrix_grid import matrix_grid
from gameday.report.summary import ExperimentSummary, Summary
from gameday.rundir import ExperimentOutcome
from gameday.slo.verdict import ObjectiveResult, judge

CELLS = {
    "redis-down": ("redis", "down"),
    "redis-latency-1000ms-downstream": ("redis", "latency"),
    "postgres-down": ("postgres", "down"),
    "postgres-latency-1000ms-downstream": ("postgres", "latency"),
    "rabbitmq-down": ("rabbitmq", "down"),
}
EXPERIMENT = {window: f"{d}-{f}" for window, (d, f) in CELLS.items()}


def _window(name: str, *, breach_s: float, lost: int = 0) -> ExperimentSummary:
    return ExperimentSummary.model_construct(
        name=name, injected_s=10.0, breach_s=breach_s, lost_writes=lost
    )


def _rto(window: str, *, passed: bool, phase: str = "") -> ObjectiveResult:
    return judge(
        name=f"{window} RTO",
        scope=f"experiment:{window}",
        phase=phase or f"fault:{window}",
        metric="rto_s",
        comparator="<=",
        target=60.0,
        measured=30.0 if passed else 90.0,
        unit="s",
        experiment=EXPERIMENT[window],
    )


def _outcome(window: str, verdict: str = "pass") -> ExperimentOutcome:
    fields: dict[str, Any] = {"name": EXPERIMENT[window], "title": "", "status": "completed"}
    return ExperimentOutcome(**fields, verdict=verdict, faults=[window])  # type: ignore[arg-type]


def test_the_grid_names_held_degraded_breached_lost_and_not_judged() -> None:
    summary = Summary.model_construct(
        experiments=[
            _window("redis-down", breach_s=0),
            _window("redis-latency-1000ms-downstream", breach_s=4),
            _window("postgres-down", breach_s=12),
            _window("postgres-latency-1000ms-downstream", breach_s=3, lost=2),
            _window("rabbitmq-down", breach_s=0),
        ],
        objectives=[
            _rto("redis-latency-1000ms-downstream", passed=True),
            _rto("postgres-down", passed=False),
            # judged outside its window, it is not this cell's RTO
            _rto("postgres-down", passed=True, phase="recovered"),
        ],
        outcomes=[
            *(_outcome(w) for w in CELLS if w != "rabbitmq-down"),
            _outcome("rabbitmq-down", "error"),
        ],
    )
    table = matrix_grid(summary, CELLS)
    assert table["redis"] == {"down": "held", "latency": "degraded"}
    assert table["postgres"] == {"down": "breached", "latency": "data lost"}
    assert table["rabbitmq"] == {"down": "not judged"}


def test_a_cell_whose_fault_never_made_a_window_is_not_judged() -> None:
    summary = Summary.model_construct(experiments=[], objectives=[], outcomes=[])
    assert matrix_grid(summary, {"redis-down": ("redis", "down")}) == {
        "redis": {"down": "not judged"}
    }
