"""`gameday run`: put the service under a named traffic model and record it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from gameday.chaos.experiment import load_experiment
from gameday.chaos.reconcile import reconcile
from gameday.chaos.sidecar import ExperimentSidecar
from gameday.errors import ConfigError
from gameday.load import engine
from gameday.load.config import LoadConfig
from gameday.load.timespan import parse_timespan
from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.slo.loader import load_slo
from gameday.slo.model import SloFile

DEFAULT_SLO = PROJECT_ROOT / "slo.yaml"

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
) -> None:
    """Run a load test (with a chaos experiment on the same clock); print the run directory."""
    stack = StackSettings()
    slo_file = load_slo(slo)  # an invalid SLO file stops the run before any load (exit 2)
    chaos = load_experiment(experiment) if experiment is not None else None
    if shape is None:
        shape = "constant-rate" if rate is not None else "steady"
    if workers < 0:
        raise ConfigError(f"--workers must be 0 or more, not {workers}")
    duration_s = parse_timespan(duration, what="--duration")
    if duration_s <= 0:
        raise ConfigError("--duration must be positive (e.g. 90s, 5m)")
    if chaos is not None and duration_s < chaos.planned_total_s:
        console.print(
            f"duration extended to {chaos.planned_total_s:.0f}s: warm-up {chaos.warmup_s:.0f}s "
            f"+ method {chaos.planned_method_s:.0f}s + recovery {chaos.recovery_s:.0f}s"
        )
        duration_s = chaos.planned_total_s
    url = target or (
        f"http://{stack.host}:{stack.api_proxy_port}" if via_proxy else stack.service_url
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
    run_dir = engine.new_run_dir(out, scenario)
    config = config.model_copy(
        update={
            "tokens": tokens,
            "tenant_weights": dict(zip(tokens, weights, strict=False)),
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
            p95 = f"{live.p95_ms:.0f} ms" if live.p95_ms is not None else "-"
            progress.update(
                task,
                completed=min(live.elapsed_s, duration_s),
                stats=f"{live.rps:.0f} rps  p95 {p95}  errors {live.error_rate:.2%}  "
                f"total {live.total}",
            )

        sidecar = (
            ExperimentSidecar(chaos, run_dir, stack, slo_variables(slo_file))
            if chaos is not None
            else None
        )
        try:
            record = engine.run_load(config, run_dir, on_tick=on_tick, stack=stack, sidecar=sidecar)
        finally:
            outcome = sidecar.finish() if sidecar is not None else None
    generator = record.get("generator", {})
    if not generator.get("valid", True):
        console.print(f"[yellow]generator was the bottleneck:[/] {'; '.join(generator['reasons'])}")
    console.print(f"run {record['status']}: {run_dir}")
    verdicts: list[str] = []
    if outcome is not None and record["status"] != "interrupted":
        console.print("reconciling the write ledger with PostgreSQL and OpenSearch ...")
        rpo = reconcile(run_dir, stack, grace_s=parse_timespan(rpo_grace, what="--rpo-grace"))
        console.print(
            f"experiment {outcome['name']}: {outcome['verdict'].upper()}"
            f"{' - ' + outcome['error'] if outcome['error'] else ''}; "
            f"lost writes {rpo.lost}, RPO {rpo.rpo_s:.1f}s"
        )
        verdicts.append("fail" if rpo.lost and outcome["verdict"] == "pass" else outcome["verdict"])
    # The evidence is on disk; now the report judges it against the SLO file.
    shutil.copyfile(slo, run_dir / "slo.yaml")
    console.print("building the report ...")
    from gameday.report.write import write_report  # keeps pandas out of CLI start-up

    summary = write_report(run_dir, slo_path=run_dir / "slo.yaml")
    verdicts.append(summary.verdict.value)
    for reason in summary.reasons:
        console.print(f"  error: {reason}")
    for result in summary.violated():
        measured = "nothing" if result.measured is None else f"{result.measured:g} {result.unit}"
        console.print(
            f"  violated: {result.name}: {measured} "
            f"(target {result.comparator} {result.target:g} {result.unit})"
        )
    verdict = "error" if "error" in verdicts else ("fail" if "fail" in verdicts else "pass")
    console.print(f"verdict {verdict.upper()}  report: {run_dir / 'index.html'}")
    if record["status"] == "interrupted":
        raise typer.Exit(130)
    raise typer.Exit({"pass": 0, "fail": 1, "error": 2}[verdict])


def slo_variables(slo_file: SloFile) -> dict[str, float]:
    """The SLO thresholds experiments read as configuration (`${p95_max_ms}`)."""
    return {
        "p95_max_ms": slo_file.overall.latency.p95 or 500.0,
        "error_rate_max": (slo_file.overall.error_rate_pct or 0.1) / 100.0,
        "window_s": slo_file.sustained_window,
    }


def register(app: typer.Typer) -> None:
    app.command("run")(run)
