"""`gameday run`: put the service under a named traffic model and record it.

The command line only parses flags into a `RunPlan`, hands it to
`gameday.app.run_session`, renders its progress, prints the report's verdict
lines and exits with the report's code (130 when interrupted)."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from gameday.app import (
    LoadEnded,
    LoadStarting,
    LoadTick,
    Note,
    RunOutcome,
    RunPlan,
    build_plan,
    run_session,
)
from gameday.app import (
    Progress as SessionProgress,
)
from gameday.chaos.experiment import check_overrides, load_experiment, parse_overrides
from gameday.chaos.suite import suite_of
from gameday.cli.options import MixOption, ProfileOption
from gameday.errors import ConfigError
from gameday.load import engine
from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.slo.loader import load_slo
from gameday.target import load_profile

DEFAULT_SLO = PROJECT_ROOT / "slo.yaml"
VAR_HELP = "NAME=NUMBER: set an experiment's configuration key, e.g. fault_s=10 (repeatable)"

console = Console(highlight=False, soft_wrap=True)


def run(
    scenario: MixOption = None,
    profile: ProfileOption = None,
    shape: Annotated[
        str | None,
        typer.Option(
            envvar="GAMEDAY_SHAPE",
            help="steady|ramp|step|spike|soak|diurnal|constant-rate|stepped-rate",
        ),
    ] = None,
    rate: Annotated[
        float | None, typer.Option(envvar="GAMEDAY_RATE", help="open model: requests/s")
    ] = None,
    users: Annotated[
        int | None, typer.Option(envvar="GAMEDAY_USERS", help="closed model: users")
    ] = None,
    spawn_rate: Annotated[float | None, typer.Option(envvar="GAMEDAY_SPAWN_RATE")] = None,
    duration: Annotated[str, typer.Option(envvar="GAMEDAY_DURATION", help="e.g. 90s, 5m")] = "1m",
    workers: Annotated[int, typer.Option(envvar="GAMEDAY_WORKERS", help="0: one process")] = 0,
    ready_timeout: Annotated[
        str,
        typer.Option(
            envvar="GAMEDAY_READY_TIMEOUT",
            help="with --workers: the longest wait for them to connect, then to be ready",
        ),
    ] = "60s",
    tenants: Annotated[int, typer.Option(envvar="GAMEDAY_TENANTS")] = engine.DEFAULT_TENANTS,
    seed: Annotated[int, typer.Option(envvar="GAMEDAY_SEED")] = 42,
    out: Annotated[Path | None, typer.Option(envvar="GAMEDAY_OUT", help="run directory")] = None,
    via_proxy: Annotated[
        bool, typer.Option("--via-proxy", envvar="GAMEDAY_VIA_PROXY", help="through the api proxy")
    ] = False,
    target: Annotated[str | None, typer.Option(envvar="GAMEDAY_TARGET", help="service URL")] = None,
    experiment: Annotated[
        Path | None, typer.Option(envvar="GAMEDAY_EXPERIMENT", help="Chaos Toolkit experiment")
    ] = None,
    slo: Annotated[
        Path | None,
        typer.Option(
            envvar="GAMEDAY_SLO", help="SLO file (default: the profile's slo, else slo.yaml)"
        ),
    ] = None,
    rpo_grace: Annotated[
        str, typer.Option(envvar="GAMEDAY_RPO_GRACE", help="how long indexing may lag")
    ] = "30s",
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            envvar="GAMEDAY_TLS",
            help="HTTPS, verified with the stack's CA (stack up --tls)",
        ),
    ] = False,
    var: Annotated[list[str] | None, typer.Option("--var", help=VAR_HELP)] = None,
    warmup: Annotated[
        bool,
        typer.Option("--warmup", help="call the profile's warm-up hook before the load"),
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            envvar="GAMEDAY_HARNESS_METRICS_PORT",
            help="the live metrics endpoint's port (default 29091, the stack's Prometheus "
            "scrapes it); 0: none",
        ),
    ] = None,
) -> None:
    """Run a load test (with a chaos experiment on the same clock); print the run directory."""
    if tls:
        use_tls(StackSettings(tls=True))
    # after use_tls: these settings are the session's, so they must see GAMEDAY_TLS
    stack = None if metrics_port is None else _with_metrics_port(metrics_port)
    target_profile = load_profile(profile) if profile is not None else None
    slo = slo or (target_profile and target_profile.slo_path()) or DEFAULT_SLO
    slo_file = load_slo(slo)  # an invalid SLO file stops the run before any load (exit 2)
    overrides = parse_overrides(var or [])
    if overrides and experiment is None:
        raise ConfigError("--var overrides an experiment's configuration: add --experiment FILE")
    suite = suite_of([load_experiment(experiment, overrides)]) if experiment is not None else None
    if suite is not None:
        check_overrides(overrides, suite.experiments)
    plan = build_plan(
        scenario=scenario,
        shape=shape,
        rate=rate,
        users=users,
        spawn_rate=spawn_rate,
        duration=duration,
        workers=workers,
        ready_timeout=ready_timeout,
        tenants=tenants,
        seed=seed,
        out=out,
        via_proxy=via_proxy,
        target=target,
        suite=suite,
        experiment_source=None if experiment is None else str(experiment),
        slo_path=slo,
        slo_file=slo_file,
        rpo_grace=rpo_grace,
        overrides=overrides,
        profile=target_profile,
        warmup=warmup,
    )
    raise typer.Exit(execute(plan, stack=stack))


def _with_metrics_port(port: int) -> StackSettings:
    try:
        return StackSettings(harness_metrics_port=port)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ConfigError(f"--metrics-port {port}: {message}; 0 turns the endpoint off") from exc


def execute(plan: RunPlan, *, stack: StackSettings | None = None) -> int:
    """Run the plan with its progress on the console; print the report's verdict lines
    and return the exit code (0 pass, 1 fail, 2 error, 130 interrupted). `stack`: the
    stack's settings when a flag changed them (None: read them)."""
    for note in plan.notes:
        console.print(note)
    with ProgressView() as view:
        outcome = run_session(plan, on_progress=view, stack=stack)
    return print_verdict(outcome)


def print_verdict(outcome: RunOutcome) -> int:
    """The report's verdict lines, last (`gameday report` prints the same); the exit code."""
    from gameday.report.verdict_lines import verdict_lines  # keeps pandas out of start-up

    for line in verdict_lines(outcome.summary, outcome.page):
        console.print(line, markup=False)
    return outcome.exit_code


class ProgressView:
    """Renders a session's progress: the headline, a bar with the live line while the
    load runs, notes. A context manager, so that the bar stops however the run ends."""

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.duration_s = 0.0

    def __enter__(self) -> ProgressView:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def __call__(self, event: SessionProgress) -> None:
        if isinstance(event, LoadStarting):
            console.print(event.headline)
            self.duration_s = event.duration_s
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[stats]}"),
                console=console,
                transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task("load", total=event.duration_s, stats="starting ...")
        elif isinstance(event, LoadTick):
            self.on_tick(event.live)
        elif isinstance(event, LoadEnded):
            self._stop()
        elif isinstance(event, Note):
            console.print(event.text, style="yellow" if event.warning else None, markup=False)

    def on_tick(self, live: engine.LiveStats) -> None:
        if self.progress is not None and self.task is not None:
            completed = min(live.elapsed_s, self.duration_s)
            self.progress.update(self.task, completed=completed, stats=live.describe())

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def use_tls(stack: StackSettings) -> None:
    """HTTPS from here on: the service URLs become https, and every client of this process
    (httpx: SSL_CERT_FILE) and of Locust (GAMEDAY_CA_BUNDLE, scenarios.tls) verifies the
    service's certificate with the stack's CA, or with a GAMEDAY_CA_BUNDLE already set."""
    bundle = os.environ.get("GAMEDAY_CA_BUNDLE") or str(stack.tls_dir / "ca.pem")
    if not Path(bundle).is_file():
        raise ConfigError(
            f"--tls: no CA bundle at {bundle}; start the stack with `gameday stack up --tls` "
            "or set GAMEDAY_CA_BUNDLE to the CA that signed the service's certificate"
        )
    os.environ["GAMEDAY_TLS"] = "1"
    os.environ["GAMEDAY_CA_BUNDLE"] = bundle
    os.environ["SSL_CERT_FILE"] = bundle


def register(app: typer.Typer) -> None:
    app.command("run")(run)
