"""`gameday gameday SUITE`: several experiments in sequence under one load,
with cool-downs and a bounded wait for the steady state between them, one report
for them all and a resilience score."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from gameday.app import build_plan
from gameday.chaos.experiment import check_overrides, parse_overrides
from gameday.chaos.suite import load_suite
from gameday.cli.options import MixOption, ProfileOption
from gameday.cli.run import DEFAULT_SLO, VAR_HELP, execute
from gameday.load.engine import DEFAULT_TENANTS
from gameday.slo.loader import load_slo
from gameday.target import load_profile
from gameday.timespan import parse_timespan


def gameday(
    suite_file: Annotated[Path, typer.Argument(help="suite YAML (see experiments/suite.yaml)")],
    rate: Annotated[float | None, typer.Option(envvar="GAMEDAY_RATE")] = None,
    users: Annotated[int | None, typer.Option(envvar="GAMEDAY_USERS")] = None,
    scenario: MixOption = None,
    profile: ProfileOption = None,
    workers: Annotated[int | None, typer.Option(envvar="GAMEDAY_WORKERS")] = None,
    out: Annotated[Path | None, typer.Option(envvar="GAMEDAY_OUT")] = None,
    target: Annotated[str | None, typer.Option(envvar="GAMEDAY_TARGET")] = None,
    via_proxy: Annotated[bool, typer.Option("--via-proxy", envvar="GAMEDAY_VIA_PROXY")] = False,
    slo: Annotated[Path, typer.Option(envvar="GAMEDAY_SLO")] = DEFAULT_SLO,
    rpo_grace: Annotated[str, typer.Option(envvar="GAMEDAY_RPO_GRACE")] = "30s",
    seed: Annotated[int, typer.Option(envvar="GAMEDAY_SEED")] = 42,
    var: Annotated[list[str] | None, typer.Option("--var", help=VAR_HELP)] = None,
    settle_timeout: Annotated[
        str | None,
        typer.Option(
            envvar="GAMEDAY_SETTLE_TIMEOUT",
            help="longest wait for the steady state before each next experiment and "
            "after the last (default: the suite's settle_timeout, else 60s)",
        ),
    ] = None,
) -> None:
    """Run a game day: the suite's experiments one after another under one load."""
    slo_file = load_slo(slo)
    overrides = parse_overrides(var or [])
    suite = load_suite(suite_file, overrides)
    if settle_timeout is not None:
        suite = replace(
            suite, settle_timeout_s=parse_timespan(settle_timeout, what="--settle-timeout")
        )
    check_overrides(overrides, suite.experiments)
    load = suite.load
    chosen_rate = rate if rate is not None else load.get("rate")
    chosen_users = users if users is not None else load.get("users")
    if chosen_rate is None and chosen_users is None:
        chosen_rate = 20.0
    plan = build_plan(
        scenario=scenario or load.get("scenario"),
        shape=load.get("shape"),
        rate=None if chosen_rate is None else float(chosen_rate),
        users=None if chosen_users is None else int(chosen_users),
        spawn_rate=load.get("spawn_rate"),
        duration=None,  # the suite's planned length, with its waits for the steady state
        workers=workers if workers is not None else int(load.get("workers", 0)),
        tenants=DEFAULT_TENANTS,
        seed=seed,
        out=out,
        via_proxy=via_proxy,
        target=target,
        suite=suite,
        experiment_source=str(suite_file),
        slo_path=slo,
        slo_file=slo_file,
        rpo_grace=rpo_grace,
        overrides=overrides,
        profile=load_profile(profile) if profile is not None else None,
    )
    raise typer.Exit(execute(plan))


def register(app: typer.Typer) -> None:
    app.command("gameday")(gameday)
