from __future__ import annotations

from pathlib import Path

from gameday.chaos.matrix import FAULTS, write_matrix


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
