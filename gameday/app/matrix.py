"""The fault matrix as a session: every chosen dependency x fault, generated as
experiments in the run directory, run as one suite under one load; matrix.json is
the report's grid (a view of summary.json).

    plan, cells = plan_matrix(profile=profile, dependencies=["redis"], faults=["down"], ...)
    outcome, table = run_matrix(plan, cells, on_progress=render)
"""

from __future__ import annotations

from pathlib import Path

from gameday.app.plan import RunPlan, build_plan
from gameday.app.session import OnProgress, RunOutcome, run_session
from gameday.chaos.matrix import write_matrix
from gameday.chaos.suite import Suite
from gameday.errors import ConfigError
from gameday.load.engine import DEFAULT_TENANTS, new_run_dir
from gameday.slo.model import SloFile
from gameday.target import TargetProfile

Cells = dict[str, tuple[str, str]]  # the fault's name on the timeline -> (dependency, fault)


def matrix_dependencies(profile: TargetProfile, given: str | None) -> list[str]:
    """The dependencies the matrix faults: the profile's (its proxies' names), all of
    them, or those `given` (comma-separated) names."""
    valid = list(profile.dependencies)
    if not valid:
        raise ConfigError(
            f"target profile {profile.name} has no dependencies: add each one under "
            "dependencies (name: {listen: HOST:PORT, upstream: HOST:PORT})"
        )
    if given is None:
        return valid
    chosen = [v.strip() for v in given.split(",") if v.strip()]
    unknown = [c for c in chosen if c not in valid]
    if unknown or not chosen:
        raise ConfigError(
            f"unknown dependency {unknown[0] if unknown else given!r} for target "
            f"{profile.name}; expected some of {', '.join(valid)} (the profile's dependencies)"
        )
    return chosen


def plan_matrix(
    *,
    profile: TargetProfile,
    dependencies: list[str],
    faults: list[str],
    fault_s: float,
    settle_timeout_s: float,
    rate: float,
    scenario: str | None,
    out: Path | None,
    target: str | None,
    slo_path: Path,
    slo_file: SloFile,
) -> tuple[RunPlan, Cells]:
    """The run directory with the cells' experiments in matrix-experiments/, and the plan
    that runs them one after another."""
    run_dir = new_run_dir(out, "matrix")
    experiments, cells = write_matrix(
        run_dir / "matrix-experiments", dependencies, faults, fault_s=fault_s
    )
    # A short cool-down: the wait for the steady state does the real work between cells
    # (a breaker left open by the cell before would otherwise leave the next not judged).
    suite = Suite(
        title=f"fault matrix ({len(experiments)} cells)",
        experiments=experiments,
        cooldown_s=5.0,
        settle_timeout_s=settle_timeout_s,
    )
    plan = build_plan(
        scenario=scenario,
        shape=None,
        rate=rate,
        users=None,
        spawn_rate=None,
        duration=None,
        workers=0,
        tenants=DEFAULT_TENANTS,
        seed=42,
        out=run_dir,
        via_proxy=False,
        target=target,
        suite=suite,
        experiment_source=suite.title,
        slo_path=slo_path,
        slo_file=slo_file,
        rpo_grace="30s",
        reuse_run_dir=True,
        profile=profile,
    )
    return plan, cells


def run_matrix(
    plan: RunPlan, cells: Cells, *, on_progress: OnProgress = lambda _: None
) -> tuple[RunOutcome, dict[str, dict[str, str]]]:
    """Run the plan; write matrix.json from the report's summary."""
    from gameday.report.matrix_grid import matrix_grid, render_matrix_json

    outcome = run_session(plan, on_progress=on_progress)
    table = matrix_grid(outcome.summary, cells)
    (outcome.run_dir / "matrix.json").write_text(render_matrix_json(table))
    return outcome, table
