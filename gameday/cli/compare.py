"""`gameday compare BASE CANDIDATE`: latency and error-rate deltas with
bootstrap confidence intervals, judged by the SLO file's regression
tolerances.

Exit codes: 0 no regression, 1 a regression, 2 either run's data is
incomplete or invalid (the comparison is still written and says why), or
`--strict` and the two runs ran different loads (nothing is written).

Runs that differ in scenario, rate, users, shape, duration or target URL are
compared all the same, with a warning in the output, compare.json and the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gameday.errors import ConfigError

console = Console(highlight=False, soft_wrap=True, markup=False)
EXIT_CODES = {"pass": 0, "regression": 1, "error": 2}


def compare(
    base: Annotated[Path, typer.Argument(help="baseline run directory")],
    candidate: Annotated[Path, typer.Argument(help="candidate run directory")],
    slo: Annotated[
        Path | None, typer.Option(envvar="GAMEDAY_SLO", help="SLO file with the tolerances")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            envvar="GAMEDAY_COMPARE_OUT", help="where to write (default: CANDIDATE/compare)"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(envvar="GAMEDAY_SEED", help="bootstrap seed")] = 0,
    resamples: Annotated[
        int, typer.Option(envvar="GAMEDAY_RESAMPLES", help="bootstrap resamples")
    ] = 200,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            envvar="GAMEDAY_COMPARE_STRICT",
            help="refuse (exit 2) runs that differ in scenario, rate, users, shape, "
            "duration or target URL",
        ),
    ] = False,
) -> None:
    """Compare two runs; exit 1 when the candidate regressed."""
    from gameday.report.compare_page import write_comparison

    for path in (base, candidate):
        if not path.is_dir():
            raise ConfigError(f"run directory {path} does not exist")
    if resamples < 10:
        raise ConfigError(f"--resamples must be at least 10, not {resamples}")
    target = out or candidate / "compare"
    comparison = write_comparison(
        base,
        candidate,
        out=target,
        slo_path=slo,
        seed=seed,
        resamples=resamples,
        strict=strict,
    )
    console.print(f"{comparison.verdict.upper()}  {target / 'compare.html'}")
    for warning in comparison.warnings:
        console.print(f"  warning: {warning}")
    for reason in comparison.reasons:
        console.print(f"  error: {reason}")
    for d in comparison.regressions():
        console.print(
            f"  regression: {d.scope} {d.metric}: {d.base:g} -> {d.candidate:g} "
            f"({d.delta_pct:+.1f}%, CI [{d.ci_low:g}, {d.ci_high:g}], tolerance {d.tolerance:g})"
        )
    raise typer.Exit(EXIT_CODES[comparison.verdict])


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
