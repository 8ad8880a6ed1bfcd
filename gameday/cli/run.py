"""`gameday run`: put the service under a named traffic model and record it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from gameday.errors import ConfigError
from gameday.load import engine
from gameday.load.config import LoadConfig
from gameday.load.timespan import parse_timespan
from gameday.settings import StackSettings

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
) -> None:
    """Run a load test; print the run directory."""
    stack = StackSettings()
    if shape is None:
        shape = "constant-rate" if rate is not None else "steady"
    if workers < 0:
        raise ConfigError(f"--workers must be 0 or more, not {workers}")
    duration_s = parse_timespan(duration, what="--duration")
    if duration_s <= 0:
        raise ConfigError("--duration must be positive (e.g. 90s, 5m)")
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

        record = engine.run_load(config, run_dir, on_tick=on_tick, stack=stack)
    generator = record.get("generator", {})
    if not generator.get("valid", True):
        console.print(f"[yellow]generator was the bottleneck:[/] {'; '.join(generator['reasons'])}")
    console.print(f"run {record['status']}: {run_dir}")
    if record["status"] == "interrupted":
        raise typer.Exit(130)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
