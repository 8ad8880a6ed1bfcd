"""`gameday matrix`: every dependency of the target profile x every network fault, one
grid of verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gameday.app.matrix import matrix_dependencies, plan_matrix, run_matrix
from gameday.app.plan import reference_profile
from gameday.chaos.matrix import FAULTS
from gameday.chaos.settle import DEFAULT_SETTLE_TIMEOUT_S
from gameday.cli.options import MixOption, ProfileOption
from gameday.cli.run import DEFAULT_SLO, ProgressView, print_verdict
from gameday.errors import ConfigError
from gameday.slo.loader import load_slo
from gameday.target import load_profile
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
    scenario: MixOption = None,
    profile: ProfileOption = None,
    out: Annotated[Path | None, typer.Option(envvar="GAMEDAY_OUT")] = None,
    target: Annotated[str | None, typer.Option(envvar="GAMEDAY_TARGET")] = None,
    slo: Annotated[
        Path | None,
        typer.Option(envvar="GAMEDAY_SLO", help="default: the profile's slo, else slo.yaml"),
    ] = None,
    settle_timeout: Annotated[
        str,
        typer.Option(
            envvar="GAMEDAY_SETTLE_TIMEOUT",
            help="longest wait for the steady state before each next cell and after the last",
        ),
    ] = f"{DEFAULT_SETTLE_TIMEOUT_S:g}s",
) -> None:
    """Run the fault matrix (short, bounded) and print the dependency x fault grid."""
    chosen_faults = _pick(faults, tuple(FAULTS), "fault")
    target_profile = load_profile(profile) if profile is not None else reference_profile()
    slo = slo or target_profile.slo_path() or DEFAULT_SLO
    plan, cells = plan_matrix(
        profile=target_profile,
        dependencies=matrix_dependencies(target_profile, dependencies),
        faults=chosen_faults,
        fault_s=parse_timespan(fault_duration, what="--fault-duration"),
        settle_timeout_s=parse_timespan(settle_timeout, what="--settle-timeout"),
        rate=rate,
        scenario=scenario,
        out=out,
        target=target,
        slo_path=slo,
        slo_file=load_slo(slo),
    )
    suite = plan.suite
    assert suite is not None
    console.print(
        f"{len(suite.experiments)} experiments, about {suite.planned_total_s / 60:.0f} min "
        f"(at most {(suite.planned_total_s + suite.wait_budget_s) / 60:.0f} min with the waits "
        "for the steady state)"
    )
    with ProgressView() as view:
        outcome, table = run_matrix(plan, cells, on_progress=view)
    grid = Table("dependency", *chosen_faults)
    for dependency, row in table.items():
        grid.add_row(dependency, *(row[f] for f in chosen_faults))
    console.print(grid)
    console.print(f"matrix: {outcome.run_dir / 'matrix.json'}")
    raise typer.Exit(print_verdict(outcome))


def register(app: typer.Typer) -> None:
    app.command("matrix")(matrix)
