from __future__ import annotations

from pathlib import Path

from gameday.chaos.matrix import FAULTS, grid, write_matrix


def test_every_cell_gets_a_valid_experiment_whose_fault_name_matches_the_timeline(
    tmp_path: Path,
) -> None:
    experiments, cells = write_matrix(tmp_path, ["redis", "postgres"], list(FAULTS), fault_s=8)
    assert len(experiments) == 2 * len(FAULTS)
    assert set(cells.values()) == {(d, f) for d in ("redis", "postgres") for f in FAULTS}
    latency = next(e for e in experiments if e.name == "redis-latency")
    removal = latency.data["method"][1]["provider"]["arguments"]
    # removed by the injection's own arguments: remove_fault names it by the same rule
    assert removal == {"proxy": "redis", "fault": "latency", "latency_ms": 1000}
    assert latency.data["rollbacks"][0]["provider"]["arguments"] == removal
    assert cells["redis-latency-1000ms-downstream"] == ("redis", "latency")
    assert latency.planned_method_s == 8 + 10


def _rto(window: str, *, passed: bool) -> dict[str, object]:
    return {
        "name": f"{window} RTO",
        "scope": f"experiment:{window}",
        "phase": f"fault:{window}",
        "metric": "rto_s",
        "passed": passed,
    }


def test_the_grid_names_held_degraded_breached_lost_and_not_judged() -> None:
    cells = {
        "redis-down": ("redis", "down"),
        "redis-latency-1000ms-downstream": ("redis", "latency"),
        "postgres-down": ("postgres", "down"),
        "postgres-latency-1000ms-downstream": ("postgres", "latency"),
        "rabbitmq-down": ("rabbitmq", "down"),
    }
    summary = {
        "experiments": [
            {"name": "redis-down", "breach_s": 0, "lost_writes": 0},
            {"name": "redis-latency-1000ms-downstream", "breach_s": 4, "lost_writes": 0},
            {"name": "postgres-down", "breach_s": 12, "lost_writes": 0},
            {"name": "postgres-latency-1000ms-downstream", "breach_s": 3, "lost_writes": 2},
            {"name": "rabbitmq-down", "breach_s": 0, "lost_writes": 0},
        ],
        "objectives": [
            _rto("redis-latency-1000ms-downstream", passed=True),
            _rto("postgres-down", passed=False),
            # another window's RTO, or one judged outside its window, is not this cell's
            {**_rto("postgres-down", passed=True), "phase": "recovered"},
        ],
    }
    outcomes = [{"name": "rabbitmq-down", "verdict": "error"}]
    table = grid(summary, outcomes, cells)
    assert table["redis"] == {"down": "held", "latency": "degraded"}
    assert table["postgres"] == {"down": "breached", "latency": "data lost"}
    assert table["rabbitmq"] == {"down": "not judged"}
