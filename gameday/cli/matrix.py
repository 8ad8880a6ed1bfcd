"""`gameday matrix`: every dependency x every network fault, one grid of verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gameday.chaos.matrix import DEPENDENCIES, FAULTS, grid, write_matrix
from gameday.chaos.settle import DEFAULT_SETTLE_TIMEOUT_S
from gameday.chaos.suite import Suite
from gameday.cli.run import DEFAULT_SLO, execute
from gameday.errors import ConfigError
from gameday.load.engine import DEFAULT_TENANTS, new_run_dir
from gameday.slo.loader import load_slo
from gameday.timespan import parse_timespan

console = Console(highlight=False, soft_wrap=True)


def _pick(given: str | None, valid: tuple[str, ...], what: str) -> list[str]:
    if given is None:
        return list(valid)
    chosen = [v.strip() for v in given.split(",") if v.strip()]
    unknown = [c for c in chosen if c not in valid]
    if unknown or not chosen:
        raise ConfigError(
            f"unknown {what} {unknown[0] if unknown else given!r}; "
            f"expected some of {', '.join(valid)}"
        )
    return chosen


def matrix(
    faults: Annotated[str | None, typer.Option(envvar="GAMEDAY_MATRIX_FAULTS")] = None,
    dependencies: Annotated[str | None, typer.Option(envvar="GAMEDAY_MATRIX_DEPENDENCIES")] = None,
    fault_duration: Annotated[str, typer.Option(envvar="GAMEDAY_MATRIX_FAULT_DURATION")] = "10s",
    rate: Annotated[float, typer.Option(envvar="GAMEDAY_RATE")] = 20.0,
    scenario: Annotated[str, typer.Option(envvar="GAMEDAY_SCENARIO")] = "search_mix",
    out: Annotated[Path | None, typer.Option(envvar="GAMEDAY_OUT")] = None,
    target: Annotated[str | None, typer.Option(envvar="GAMEDAY_TARGET")] = None,
    slo: Annotated[Path, typer.Option(envvar="GAMEDAY_SLO")] = DEFAULT_SLO,
    settle_timeout: Annotated[
        str,
        typer.Option(
            envvar="GAMEDAY_SETTLE_TIMEOUT",
            help="longest wait for the steady state before each next cell and after the last",
        ),
    ] = f"{DEFAULT_SETTLE_TIMEOUT_S:g}s",
) -> None:
    """Run the fault matrix (short, bounded) and print the dependency x fault grid."""
    slo_file = load_slo(slo)
    chosen_faults = _pick(faults, tuple(FAULTS), "fault")
    chosen_dependencies = _pick(dependencies, DEPENDENCIES, "dependency")
    fault_s = parse_timespan(fault_duration, what="--fault-duration")
    settle_timeout_s = parse_timespan(settle_timeout, what="--settle-timeout")
    run_dir = new_run_dir(out, "matrix")
    experiments, cells = write_matrix(
        run_dir / "matrix-experiments", chosen_dependencies, chosen_faults, fault_s=fault_s
    )
    # A short cool-down: the wait for the steady state does the real work between cells
    # (a breaker left open by the cell before would otherwise leave the next not judged).
    suite = Suite(
        title=f"fault matrix ({len(experiments)} cells)",
        experiments=experiments,
        cooldown_s=5.0,
        settle_timeout_s=settle_timeout_s,
    )
    console.print(
        f"{len(experiments)} experiments, about {suite.planned_total_s / 60:.0f} min "
        f"(at most {(suite.planned_total_s + suite.wait_budget_s) / 60:.0f} min with the waits "
        "for the steady state)"
    )
    try:
        execute(
            scenario=scenario,
            shape=None,
            rate=rate,
            users=None,
            spawn_rate=None,
            duration="1s",
            workers=0,
            tenants=DEFAULT_TENANTS,
            seed=42,
            out=run_dir,
            via_proxy=False,
            target=target,
            suite=suite,
            slo=slo,
            slo_file=slo_file,
            rpo_grace="30s",
            reuse_run_dir=True,
            experiment_source=suite.title,
        )
    except typer.Exit as done:
        summary = json.loads((run_dir / "summary.json").read_text())
        outcomes = [json.loads(p.read_text()) for p in sorted(run_dir.glob("experiment-*.json"))]
        table = grid(summary, outcomes, cells)
        (run_dir / "matrix.json").write_text(json.dumps(table, indent=2) + "\n")
        view = Table("dependency", *chosen_faults)
        for dependency, row in table.items():
            view.add_row(dependency, *(row[f] for f in chosen_faults))
        console.print(view)
        console.print(f"matrix: {run_dir / 'matrix.json'}")
        raise typer.Exit(done.exit_code) from None


def register(app: typer.Typer) -> None:
    app.command("matrix")(matrix)
