"""Each fault declares its name rule and its matrix arguments once (FAULTS in
gameday/chaos/faults.py, PROCESS_FAULTS in processes.py): every provider that
injects a fault has a declaration, docs/experiments.md has a row for each, and the
experiments remove a toxic by the arguments that injected it, never by a name
spelled again."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from gameday.chaos import faults, processes, redis_failover
from gameday.chaos.fault_rule import FaultArgumentsError, FaultRule

ROOT = Path(__file__).parents[3]
ROW = re.compile(r"^\| `(\w+)` \| `(\w+)` \| `([^`]+)` \| ([^|]+?) \|$")
DECLARED = {**faults.FAULTS, **processes.PROCESS_FAULTS, **redis_failover.REDIS_FAULTS}


def _injectors(module: object) -> set[str]:
    """The providers that return the name of the fault they injected."""
    return {
        name
        for name in getattr(module, "__all__", [])
        if inspect.signature(getattr(module, name)).return_annotation == "str"
    }


def test_every_provider_that_injects_a_fault_declares_it() -> None:
    assert {r.func for r in faults.FAULTS.values()} == _injectors(faults)
    assert {r.func for r in processes.PROCESS_FAULTS.values()} == _injectors(processes)
    # its one injector returns the fault's name like the others (a game day's score
    # attributes the fault window by it)
    assert {r.func for r in redis_failover.REDIS_FAULTS.values()} == {"kill_redis_primary"}
    assert inspect.signature(redis_failover.kill_redis_primary).return_annotation == "str"


def test_the_rules_name_faults_as_the_timeline_always_has() -> None:
    latency = faults.FAULTS["latency"]
    assert latency.name(proxy="opensearch", latency_ms=800) == (
        "opensearch-latency-800ms-downstream"
    )
    assert latency.name(proxy="redis", latency_ms=40, stream="upstream", toxicity=0.25) == (
        "redis-latency-40ms-upstream-25pct"
    )
    assert faults.FAULTS["timeout"].name(proxy="postgres") == "postgres-timeout-0ms-downstream"
    assert faults.FAULTS["down"].name(proxy="redis") == "redis-down"
    killed = processes.PROCESS_FAULTS["worker_killed"]
    assert killed.name(pid=42, signal="sigkill") == "service-worker-42-sigkill"


def test_a_rule_without_an_argument_it_needs_names_it() -> None:
    with pytest.raises(FaultArgumentsError, match="add_latency needs 'latency_ms'"):
        faults.FAULTS["latency"].name(proxy="redis")


def _matrix_cell(rule: FaultRule) -> str:
    if rule.matrix is None:
        return "not in the matrix"
    return ", ".join(f"`{k}={v}`" for k, v in rule.matrix.items()) or "(none)"


def test_docs_experiments_md_has_one_row_per_declared_fault() -> None:
    rows = (ROW.match(line) for line in (ROOT / "docs/experiments.md").read_text().splitlines())
    documented = {m[1]: (m[2], m[3], m[4]) for m in rows if m}
    assert documented == {k: (r.func, r.rule, _matrix_cell(r)) for k, r in DECLARED.items()}


def _removals(activities: list[dict[str, object]]) -> list[dict[str, object]]:
    return [
        a["provider"]["arguments"]  # type: ignore[index]
        for a in activities
        if a["provider"]["func"] == "remove_fault"  # type: ignore[index]
    ]


@pytest.mark.parametrize(
    "path", sorted((ROOT / "experiments").glob("*.json")), ids=lambda p: p.stem
)
def test_each_removal_names_a_fault_its_method_injects_by_the_same_rule(path: Path) -> None:
    data = json.loads(path.read_text())
    by_func = {r.func: r for r in faults.FAULTS.values()}
    injected = {
        by_func[a["provider"]["func"]].name(**a["provider"]["arguments"])
        for a in data["method"]
        if a["provider"].get("module") == "gameday.chaos.faults"
        and a["provider"]["func"] in by_func
    }
    for arguments in _removals(data["method"]) + _removals(data.get("rollbacks") or []):
        assert "name" not in arguments, f"{path.name}: remove by the injection's arguments"
        rest = {k: v for k, v in arguments.items() if k != "fault"}
        assert faults.FAULTS[str(arguments["fault"])].name(**rest) in injected, arguments
