"""`gameday run`: put the service under a named traffic model and record it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from gameday.chaos.events import backfill_times
from gameday.chaos.experiment import check_overrides, load_experiment, parse_overrides
from gameday.chaos.reconcile import reconcile
from gameday.chaos.sidecar import SuiteSidecar
from gameday.chaos.suite import Suite, suite_of
from gameday.errors import ConfigError
from gameday.load import engine
from gameday.load.config import MIXES, NOISY_TENANT, LoadConfig
from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.slo.loader import load_slo
from gameday.slo.model import SloFile
from gameday.timespan import parse_timespan

DEFAULT_SLO = PROJECT_ROOT / "slo.yaml"
VAR_HELP = "NAME=NUMBER: set an experiment's configuration key, e.g. fault_s=10 (repeatable)"

console = Console(highlight=False, soft_wrap=True)


def run(
    scenario: Annotated[
        str, typer.Option(envvar="GAMEDAY_SCENARIO", help="named mix")
    ] = "search_mix",
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
    slo: Annotated[Path, typer.Option(envvar="GAMEDAY_SLO", help="SLO file")] = DEFAULT_SLO,
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
) -> None:
    """Run a load test (with a chaos experiment on the same clock); print the run directory."""
    if tls:
        use_tls(StackSettings(tls=True))
    slo_file = load_slo(slo)  # an invalid SLO file stops the run before any load (exit 2)
    overrides = parse_overrides(var or [])
    if overrides and experiment is None:
        raise ConfigError("--var overrides an experiment's configuration: add --experiment FILE")
    suite = suite_of([load_experiment(experiment, overrides)]) if experiment is not None else None
    if suite is not None:
        check_overrides(overrides, suite.experiments)
    execute(
        scenario=scenario,
        shape=shape,
        rate=rate,
        users=users,
        spawn_rate=spawn_rate,
        duration=duration,
        workers=workers,
        tenants=tenants,
        seed=seed,
        out=out,
        via_proxy=via_proxy,
        target=target,
        suite=suite,
        slo=slo,
        slo_file=slo_file,
        rpo_grace=rpo_grace,
        overrides=overrides,
        experiment_source=None if experiment is None else str(experiment),
    )


def execute(
    *,
    scenario: str,
    shape: str | None,
    rate: float | None,
    users: int | None,
    spawn_rate: float | None,
    duration: str,
    workers: int,
    tenants: int,
    seed: int,
    out: Path | None,
    via_proxy: bool,
    target: str | None,
    suite: Suite | None,
    slo: Path,
    slo_file: SloFile,
    rpo_grace: str,
    reuse_run_dir: bool = False,
    overrides: dict[str, float] | None = None,
    experiment_source: str | None = None,
) -> None:
    """Load, faults on the same clock, reconciliation, report, exit code."""
    stack = StackSettings()
    if shape is None:
        shape = "constant-rate" if rate is not None else "steady"
    if workers < 0:
        raise ConfigError(f"--workers must be 0 or more, not {workers}")
    duration_s = parse_timespan(duration, what="--duration")
    if duration_s <= 0:
        raise ConfigError("--duration must be positive (e.g. 90s, 5m)")
    requested_s = duration_s
    if suite is not None and duration_s < suite.planned_total_s + suite.wait_budget_s:
        waits = (
            f", up to {suite.planned_total_s + suite.wait_budget_s:.0f}s with the waits for "
            "the steady state between the experiments and after the last (the load ends "
            "once it holds again after the last one's recovery)"
            if suite.wait_budget_s
            else ""
        )
        console.print(
            f"duration extended to {suite.planned_total_s:.0f}s: the experiments' warm-up, "
            f"methods, recoveries and cool-downs{waits}"
        )
        duration_s = suite.planned_total_s + suite.wait_budget_s
    url = target or (
        f"{stack.scheme}://{stack.host}:{stack.api_proxy_port}" if via_proxy else stack.service_url
    )
    try:
        config = LoadConfig(
            scenario=scenario,
            shape=shape,
            target_rps=rate,
            users=users,
            spawn_rate=spawn_rate,
            duration_s=duration_s,
            workers=workers,
            seed=seed,
            target_url=url,
            tenant_weights={},
        )
    except ValueError as exc:
        raise ConfigError(f"invalid run options: {exc}".splitlines()[0]) from exc
    engine.validate(config)
    engine.check_service(url)
    tokens = engine.mint_tokens(tenants, ttl_s=duration_s + 3600)
    weights = engine.TENANT_WEIGHTS + [5.0] * max(0, tenants - len(engine.TENANT_WEIGHTS))
    tenant_weights = dict(zip(tokens, weights, strict=False))
    if "Abuser" in MIXES.get(scenario, {}):  # the noisy neighbour sends as a tenant of its own
        from gameday.seed.loader import mint_tokens

        tokens |= mint_tokens([NOISY_TENANT], ttl_s=duration_s + 3600)
    run_dir = engine.new_run_dir(out, scenario, allow_existing=reuse_run_dir)
    config = config.model_copy(
        update={
            "tokens": tokens,
            "tenant_weights": tenant_weights,
            "run_dir": str(run_dir),
        }
    )
    load = f"{rate:g} rps" if config.model == "open" else f"{users} users"
    console.print(f"run {run_dir.name}: {scenario} / {shape} / {load} for {duration} -> {run_dir}")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[stats]}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("load", total=duration_s, stats="starting ...")

        def on_tick(live: engine.LiveStats) -> None:
            progress.update(task, completed=min(live.elapsed_s, duration_s), stats=live.describe())

        sidecar = (
            SuiteSidecar(
                suite,
                run_dir,
                stack,
                {**slo_variables(slo_file), **(overrides or {})},
                # breakers are read from the service itself, not through a cut api proxy
                service_url=stack.service_url if via_proxy else url,
                min_duration_s=requested_s,
            )
            if suite is not None
            else None
        )
        try:
            record = engine.run_load(
                config,
                run_dir,
                on_tick=on_tick,
                stack=stack,
                sidecar=sidecar,
                facts_extra={"experiment": experiment_source},
            )
        finally:
            outcomes = sidecar.finish() if sidecar is not None else []
    backfill_times(run_dir)  # events from before Locust's first report get their t_s
    if record.generator is not None and not record.generator.valid:
        reasons = "; ".join(record.generator.reasons)
        console.print(f"[yellow]generator was the bottleneck:[/] {reasons}")
    console.print(f"run {record.status}: {run_dir}")
    if record.stopped_early:
        console.print(f"[yellow]load stopped early:[/] {record.stopped_early}")
    if outcomes and record.status != "interrupted":
        console.print("reconciling the write ledger with PostgreSQL and OpenSearch ...")
        reconcile(run_dir, stack, grace_s=parse_timespan(rpo_grace, what="--rpo-grace"))
    # The evidence is on disk; now the report judges all of it against the SLO file.
    shutil.copyfile(slo, run_dir / "slo.yaml")
    console.print("building the report ...")
    # keeps pandas out of CLI start-up
    from gameday.report.verdict_lines import exit_code, verdict_lines
    from gameday.report.write import write_report

    summary = write_report(run_dir, slo_path=run_dir / "slo.yaml")
    for line in verdict_lines(summary, run_dir / "index.html"):
        console.print(line, markup=False)
    if record.status == "interrupted":
        raise typer.Exit(130)
    raise typer.Exit(exit_code(summary))


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


def slo_variables(slo_file: SloFile) -> dict[str, float]:
    """The SLO thresholds experiments read as configuration (`${p95_max_ms}`)."""
    return {
        "p95_max_ms": slo_file.overall.latency.p95 or 500.0,
        "error_rate_max": (slo_file.overall.error_rate_pct or 0.1) / 100.0,
        "window_s": slo_file.sustained_window,
    }


def register(app: typer.Typer) -> None:
    app.command("run")(run)
