"""`gameday report RUN_DIR`: judge a run directory against the SLO file and
write summary.json, junit.xml and index.html into it; print the verdict lines
`gameday run` printed for it, and exit as it did.

Exit codes: 0 every objective met, 1 an objective violated (or an experiment
failed, or a write was lost), 2 the run's data is incomplete or invalid, or an
experiment proved nothing (the report is still written and says why), or the
SLO file is invalid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gameday.errors import ConfigError

console = Console(highlight=False, soft_wrap=True, markup=False)


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
    # keeps pandas/numpy out of CLI start-up
    from gameday.report.verdict_lines import exit_code, verdict_lines
    from gameday.report.write import write_report

    if not run_dir.is_dir():
        raise ConfigError(
            f"run directory {run_dir} does not exist: give the path gameday run printed"
        )
    summary = write_report(run_dir, slo_path=slo, out=out)
    for line in verdict_lines(summary, (out or run_dir) / "index.html"):
        console.print(line)
    raise typer.Exit(exit_code(summary))


def register(app: typer.Typer) -> None:
    app.command("report")(report)
