"""`gameday capacity`: the highest open-model rate that meets every objective.

Each step is a short `gameday run` (constant-rate shape) in its own run
directory under `OUT/steps/`, judged against the SLO file like any run; the
search (`gameday.load.capacity.find_capacity`) doubles the rate, then bisects.
Evidence first: capacity.json and capacity.html are written after every step,
so an interrupted or failed search still leaves what it measured.

Exit codes: 0 a capacity was found, 1 not even --start-rate met the
objectives, 2 usage or harness error (or the generator saturated before any
step passed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gameday.app import build_plan
from gameday.app.capacity import CapacityPlan, new_capacity_dir, run_capacity
from gameday.app.target import check_ready
from gameday.cli.options import MixOption, ProfileOption
from gameday.errors import ConfigError
from gameday.load import engine
from gameday.load.capacity import StepRecord
from gameday.report.capacity import how_sure
from gameday.settings import PROJECT_ROOT
from gameday.slo.loader import load_slo
from gameday.target import load_profile
from gameday.timespan import parse_timespan

DEFAULT_SLO = PROJECT_ROOT / "slo.yaml"

console = Console(highlight=False, soft_wrap=True)


def capacity(
    scenario: MixOption = None,
    profile: ProfileOption = None,
    slo: Annotated[Path, typer.Option(envvar="GAMEDAY_SLO", help="SLO file")] = DEFAULT_SLO,
    start_rate: Annotated[
        float, typer.Option(envvar="GAMEDAY_CAPACITY_START_RATE", help="first step, requests/s")
    ] = 10.0,
    max_rate: Annotated[
        float, typer.Option(envvar="GAMEDAY_CAPACITY_MAX_RATE", help="highest step, requests/s")
    ] = 500.0,
    step_duration: Annotated[
        str, typer.Option(envvar="GAMEDAY_CAPACITY_STEP_DURATION", help="per step, e.g. 20s")
    ] = "20s",
    resolution_pct: Annotated[
        float,
        typer.Option(
            envvar="GAMEDAY_CAPACITY_RESOLUTION_PCT",
            help="stop bisecting when the gap is this share of the passing rate",
        ),
    ] = 10.0,
    max_steps: Annotated[int, typer.Option(envvar="GAMEDAY_CAPACITY_MAX_STEPS")] = 20,
    repeats: Annotated[
        int,
        typer.Option(
            envvar="GAMEDAY_CAPACITY_REPEATS",
            help="runs of the two rates that decide the answer, judged by majority (1: one each)",
        ),
    ] = 3,
    workers: Annotated[int, typer.Option(envvar="GAMEDAY_WORKERS", help="0: one process")] = 0,
    tenants: Annotated[int, typer.Option(envvar="GAMEDAY_TENANTS")] = engine.DEFAULT_TENANTS,
    seed: Annotated[int, typer.Option(envvar="GAMEDAY_SEED")] = 42,
    out: Annotated[
        Path | None, typer.Option(envvar="GAMEDAY_OUT", help="capacity directory")
    ] = None,
    target: Annotated[str | None, typer.Option(envvar="GAMEDAY_TARGET", help="service URL")] = None,
) -> None:
    """Step an open-model rate up (doubling, then bisecting) until an objective breaks."""
    step_s = parse_timespan(step_duration, what="--step-duration")
    if step_s <= 0:
        raise ConfigError("--step-duration must be positive (e.g. 20s, 1m)")
    plan = CapacityPlan(
        step=build_plan(
            scenario=scenario,
            shape="constant-rate",
            rate=start_rate,
            users=None,
            spawn_rate=None,
            duration=step_duration,
            workers=workers,
            tenants=tenants,
            seed=seed,
            out=None,
            via_proxy=False,
            target=target,
            suite=None,
            experiment_source=None,
            slo_path=slo,
            slo_file=load_slo(slo),  # an invalid SLO file stops before any load (exit 2)
            rpo_grace="30s",
            profile=load_profile(profile) if profile is not None else None,
        ),
        start_rps=start_rate,
        max_rps=max_rate,
        resolution_pct=resolution_pct,
        max_steps=max_steps,
        repeats=repeats,
    )
    plan.check()
    check_ready(plan.step)
    scenario = plan.step.scenario
    cap_dir = new_capacity_dir(out, scenario, slo)
    console.print(
        f"capacity {scenario} at {plan.step.target_url}: {start_rate:g} to {max_rate:g} rps "
        f"-> {cap_dir}"
    )
    result = run_capacity(
        plan,
        cap_dir,
        on_step=lambda index, rate: console.print(
            f"step {index}: {rate:g} rps for {step_duration} ..."
        ),
        on_measured=_print_step,
    )
    if result.capacity_rps is None:
        console.print(f"no rate met every objective ({result.stopped_because})")
    else:
        console.print(
            f"capacity {'at least ' if result.lower_bound else ''}{result.capacity_rps:g} rps "
            f"({result.stopped_because}): {how_sure(result)}"
        )
    console.print(f"report: {cap_dir / 'capacity.html'}")
    if result.capacity_rps is None:
        raise typer.Exit(2 if result.stopped_because == "generator_saturated" else 1)
    raise typer.Exit(0)


def _print_step(step: StepRecord) -> None:
    console.print(
        f"  {step.verdict.upper()}: {step.achieved_rps:.1f} rps achieved, "
        f"p95 {step.p95_ms:.1f} ms, p99 {step.p99_ms:.1f} ms, errors {step.error_rate_pct:.2f}%"
        + "".join(f"\n  {why}" for why in step.violated + step.reasons)
    )


def register(app: typer.Typer) -> None:
    app.command("capacity")(capacity)
