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

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gameday.errors import ConfigError
from gameday.load import engine
from gameday.load.capacity import CapacityReport, Search, StepPhase, StepRecord, find_capacity
from gameday.load.config import LoadConfig
from gameday.load.rundir import write_atomic
from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.slo.loader import load_slo
from gameday.timespan import parse_timespan

DEFAULT_SLO = PROJECT_ROOT / "slo.yaml"

console = Console(highlight=False, soft_wrap=True)


def capacity(
    scenario: Annotated[
        str, typer.Option(envvar="GAMEDAY_SCENARIO", help="named mix")
    ] = "search_mix",
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
    max_steps: Annotated[int, typer.Option(envvar="GAMEDAY_CAPACITY_MAX_STEPS")] = 12,
    workers: Annotated[int, typer.Option(envvar="GAMEDAY_WORKERS", help="0: one process")] = 0,
    tenants: Annotated[int, typer.Option(envvar="GAMEDAY_TENANTS")] = engine.DEFAULT_TENANTS,
    seed: Annotated[int, typer.Option(envvar="GAMEDAY_SEED")] = 42,
    out: Annotated[
        Path | None, typer.Option(envvar="GAMEDAY_OUT", help="capacity directory")
    ] = None,
    target: Annotated[str | None, typer.Option(envvar="GAMEDAY_TARGET", help="service URL")] = None,
) -> None:
    """Step an open-model rate up (doubling, then bisecting) until an objective breaks."""
    load_slo(slo)  # an invalid SLO file stops before any load (exit 2)
    step_s = parse_timespan(step_duration, what="--step-duration")
    if step_s <= 0:
        raise ConfigError("--step-duration must be positive (e.g. 20s, 1m)")
    if not 0 < start_rate <= max_rate:
        raise ConfigError(
            f"need 0 < --start-rate <= --max-rate, not {start_rate:g} and {max_rate:g}"
        )
    if resolution_pct <= 0 or max_steps < 1 or workers < 0:
        raise ConfigError(
            "--resolution-pct must be positive, --max-steps at least 1, --workers >= 0"
        )
    url = target or StackSettings().service_url
    base = LoadConfig(
        scenario=scenario,
        shape="constant-rate",
        target_rps=start_rate,
        duration_s=step_s,
        workers=workers,
        seed=seed,
        target_url=url,
    )
    engine.validate(base)
    engine.check_service(url)
    tokens = engine.mint_tokens(tenants, ttl_s=max_steps * (step_s + 120) + 3600)
    weights = engine.TENANT_WEIGHTS + [5.0] * max(0, tenants - len(engine.TENANT_WEIGHTS))
    base = base.model_copy(
        update={"tokens": tokens, "tenant_weights": dict(zip(tokens, weights, strict=False))}
    )
    cap_dir = _new_capacity_dir(out, scenario)
    shutil.copyfile(slo, cap_dir / "slo.yaml")
    steps: list[StepRecord] = []

    def report(search: Search[StepRecord] | None) -> CapacityReport:
        result = _report(
            steps, search, scenario=scenario, url=url, slo=str(slo), start=start_rate,
            top=max_rate, step_s=step_s, resolution_pct=resolution_pct,
        )  # fmt: skip
        _write(cap_dir, result)
        return result

    def measure(rate: float) -> StepRecord:
        index = len(steps) + 1
        # climbing steps are above every earlier one; bisection goes between them
        phase: StepPhase = "climb" if all(rate > s.rate_rps for s in steps) else "bisect"
        console.print(f"step {index}: {rate:g} rps for {step_duration} ...")
        step = _run_step(base, cap_dir, index=index, rate=rate, phase=phase)
        steps.append(step)
        report(None)
        console.print(
            f"  {step.verdict.upper()}: {step.achieved_rps:.1f} rps achieved, "
            f"p95 {step.p95_ms:.1f} ms, p99 {step.p99_ms:.1f} ms, errors {step.error_rate_pct:.2f}%"
            + "".join(f"\n  {why}" for why in step.violated + step.reasons)
        )
        return step

    console.print(f"capacity {scenario} at {url}: {start_rate:g} to {max_rate:g} rps -> {cap_dir}")
    search = find_capacity(
        measure,
        start_rps=start_rate,
        max_rps=max_rate,
        resolution_pct=resolution_pct,
        max_steps=max_steps,
    )
    result = report(search)
    if result.capacity_rps is None:
        console.print(f"no rate met every objective ({result.stopped_because})")
    else:
        console.print(
            f"capacity {'at least ' if result.lower_bound else ''}{result.capacity_rps:g} rps "
            f"({result.stopped_because})"
        )
    console.print(f"report: {cap_dir / 'capacity.html'}")
    if result.capacity_rps is None:
        raise typer.Exit(2 if result.stopped_because == "generator_saturated" else 1)
    raise typer.Exit(0)


def _new_capacity_dir(out: Path | None, scenario: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    cap_dir = out if out is not None else PROJECT_ROOT / "reports" / f"{stamp}-capacity-{scenario}"
    if cap_dir.exists() and any(cap_dir.iterdir()):
        raise ConfigError(f"capacity directory {cap_dir} is not empty: choose another --out")
    (cap_dir / "steps").mkdir(parents=True, exist_ok=True)
    return cap_dir


def _run_step(
    base: LoadConfig, cap_dir: Path, *, index: int, rate: float, phase: StepPhase
) -> StepRecord:
    from gameday.report.build import build_summary  # keeps pandas out of CLI start-up
    from gameday.report.junit import render_junit
    from gameday.report.rundata import load_run
    from gameday.rundir import GeneratorInfo

    rel = Path("steps") / f"{index:02d}-{rate:g}rps"
    run_dir = engine.new_run_dir(cap_dir / rel, base.scenario)
    config = base.model_copy(update={"target_rps": rate, "run_dir": str(run_dir)})
    record = engine.run_load(config, run_dir, on_tick=lambda live: None)
    slo_copy = run_dir / "slo.yaml"
    shutil.copyfile(cap_dir / "slo.yaml", slo_copy)
    slo = load_slo(slo_copy)
    summary = build_summary(load_run(run_dir), slo, slo_source=str(slo_copy))
    (run_dir / "summary.json").write_text(summary.to_json())
    (run_dir / "junit.xml").write_text(render_junit(summary))
    generator = record.generator or GeneratorInfo()
    overall = summary.overall
    return StepRecord(
        index=index,
        phase=phase,
        rate_rps=rate,
        run_dir=rel.as_posix(),
        verdict=summary.verdict.value,
        passed=summary.verdict.value == "pass",
        generator_valid=generator.valid,
        generator_reasons=list(generator.reasons),
        # the report's rps spans the run's idle tail too; the open model scheduled
        # `rate` for `duration_s`, so completed/scheduled is the exact share
        achieved_rps=round(
            rate * overall.achieved_ratio
            if overall.achieved_ratio is not None
            else overall.count / base.duration_s,
            3,
        ),
        count=overall.count,
        error_rate_pct=overall.error_rate_pct,
        p50_ms=overall.p50_ms,
        p95_ms=overall.p95_ms,
        p99_ms=overall.p99_ms,
        violated=[
            f"{r.name}: {'nothing' if r.measured is None else f'{r.measured:g}'} {r.unit} "
            f"(target {r.comparator} {r.target:g} {r.unit})"
            for r in summary.violated()
        ],
        reasons=list(summary.reasons),
    )


def _report(
    steps: list[StepRecord],
    search: Search[StepRecord] | None,
    *,
    scenario: str,
    url: str,
    slo: str,
    start: float,
    top: float,
    step_s: float,
    resolution_pct: float,
) -> CapacityReport:
    """The report so far (`search` None: still searching; the highest passing
    step is shown as the capacity found until then)."""
    passing = [s for s in steps if s.passed]
    failing = [s.rate_rps for s in steps if not s.passed and s.generator_valid]
    if search is not None:
        capacity_rps, first_failing = search.capacity_rps, search.first_failing_rps
        stopped, lower = search.stopped_because, search.lower_bound
    else:
        capacity_rps = max((s.rate_rps for s in passing), default=None)
        first_failing = min(failing, default=None)
        stopped, lower = "max_steps", not failing
    knee = next((s for s in passing if s.rate_rps == capacity_rps), None)
    return CapacityReport(
        scenario=scenario,
        target_url=url,
        slo_source=slo,
        start_rps=start,
        max_rps=top,
        step_duration_s=step_s,
        resolution_pct=resolution_pct,
        capacity_rps=capacity_rps,
        capacity_achieved_rps=knee.achieved_rps if knee else None,
        first_failing_rps=first_failing,
        lower_bound=lower and capacity_rps is not None,
        stopped_because=stopped,
        steps=list(steps),
    )


def _write(cap_dir: Path, result: CapacityReport) -> None:
    from gameday.report.capacity import render_capacity_html

    write_atomic(cap_dir / "capacity.json", result.to_json())
    write_atomic(cap_dir / "capacity.html", render_capacity_html(result))


def register(app: typer.Typer) -> None:
    app.command("capacity")(capacity)
