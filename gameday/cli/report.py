"""`gameday report RUN_DIR`: judge a run directory against the SLO file and
write summary.json, junit.xml and index.html into it.

Exit codes: 0 every objective met, 1 an objective violated, 2 the run's data
is incomplete or invalid (the report is still written and says why) or the
SLO file is invalid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gameday.errors import ConfigError

console = Console(highlight=False, soft_wrap=True, markup=False)
EXIT_CODES = {"pass": 0, "fail": 1, "error": 2}


def report(
    run_dir: Annotated[Path, typer.Argument(help="run directory written by gameday run")],
    slo: Annotated[
        Path | None,
        typer.Option(envvar="GAMEDAY_SLO", help="SLO file (default: RUN_DIR/slo.yaml, ./slo.yaml)"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(envvar="GAMEDAY_REPORT_OUT", help="where to write (default: RUN_DIR)"),
    ] = None,
) -> None:
    """Judge a run against its SLOs; write index.html, summary.json, junit.xml."""
    from gameday.report.write import write_report  # keeps pandas/numpy out of CLI start-up

    if not run_dir.is_dir():
        raise ConfigError(
            f"run directory {run_dir} does not exist: give the path gameday run printed"
        )
    summary = write_report(run_dir, slo_path=slo, out=out)
    where = out or run_dir
    console.print(f"{summary.verdict.value.upper()}  {where / 'index.html'}")
    for reason in summary.reasons:
        console.print(f"  error: {reason}")
    for result in summary.violated():
        measured = "nothing" if result.measured is None else f"{result.measured:g} {result.unit}"
        console.print(
            f"  violated: {result.name}: {measured} (target {result.comparator} "
            f"{result.target:g} {result.unit})"
        )
    raise typer.Exit(EXIT_CODES[summary.verdict.value])


def register(app: typer.Typer) -> None:
    app.command("report")(report)
