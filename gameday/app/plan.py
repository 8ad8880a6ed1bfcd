"""What one session will run: a `RunPlan`, built from the command line's flags and
validated before any load starts.

    plan = build_plan(scenario="search_mix", rate=20, duration="1m", slo_path=slo, ...)
    plan.duration_s          # what will run: a suite's planned length when longer
    plan.headline(run_dir)   # "run NAME: search_mix / constant-rate / 20 rps for 1m -> DIR"
    plan.profile             # the target: targets/reference.yaml unless --profile names one
    plan.mix                 # the chosen mix of the profile: user class -> weight
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from gameday.chaos.suite import Suite
from gameday.errors import ConfigError
from gameday.settings import StackSettings
from gameday.slo.model import SloFile

# REFERENCE_PROFILE: the target of a run that names none (make demo, the README tour); an
# installed harness without the repository has none, and then --profile is needed.
from gameday.target import REFERENCE_PROFILE, Dependency, TargetProfile, load_profile
from gameday.timespan import parse_timespan


class RunPlan(BaseModel):
    """One run: load (+ experiments on the same clock) -> run directory -> report."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    profile: TargetProfile
    scenario: str  # the mix's name
    mix: dict[str, int]
    shape: str
    rate_rps: float | None
    users: int | None
    spawn_rate: float | None
    duration_s: float
    duration_text: str
    min_duration_s: float
    workers: int
    tenants: int
    seed: int
    out: Path | None
    reuse_run_dir: bool = False
    target_url: str
    via_proxy: bool
    service_url: str
    suite: Suite | None
    experiment_source: str | None
    slo_path: Path
    slo_file: SloFile
    rpo_grace_s: float
    overrides: dict[str, float]
    notes: list[str]
    warmup: bool = False  # call the profile's warm-up hook before the load
    # with workers: the longest wait for them to connect, then to be ready (LoadConfig)
    ready_timeout_s: float = 60.0

    def headline(self, run_dir: Path) -> str:
        """The first line: what will run, for as long as it will run."""
        load = f"{self.rate_rps:g} rps" if self.rate_rps is not None else f"{self.users} users"
        return (
            f"run {run_dir.name}: {self.scenario} / {self.shape} / {load} "
            f"for {self.duration_text} -> {run_dir}"
        )


def reference_profile(stack: StackSettings | None = None) -> TargetProfile:
    """targets/reference.yaml, on the stack's ports: the stack's settings (gameday.toml,
    GAMEDAY_*_PORT) may move every port, and the profile, written with the defaults,
    follows them (a private stack in a test, a second stack beside the first)."""
    if not REFERENCE_PROFILE.is_file():
        raise ConfigError(
            f"no target profile given and no reference profile at {REFERENCE_PROFILE}: "
            "name your service's profile with --profile FILE (gameday init URL writes one)"
        )
    stack = stack or StackSettings()
    profile = load_profile(REFERENCE_PROFILE)
    ports = {
        "postgres": (stack.postgres_proxy_port, stack.postgres_port),
        "redis": (stack.redis_proxy_port, stack.redis_port),
        "rabbitmq": (stack.rabbitmq_proxy_port, stack.rabbitmq_port),
        "opensearch": (stack.opensearch_proxy_port, stack.opensearch_port),
    }
    dependencies = {
        name: Dependency(
            listen=f"{stack.host}:{ports[name][0]}", upstream=f"{stack.host}:{ports[name][1]}"
        )
        if name in ports
        else dependency
        for name, dependency in profile.dependencies.items()
    }
    base_url = f"http://{stack.host}:{stack.service_port}"
    signals = profile.signals
    if signals is not None and signals.metrics_url is not None:
        signals = signals.model_copy(update={"metrics_url": f"{base_url}/metrics"})
    return profile.model_copy(
        update={
            "base_url": base_url,
            "toxiproxy": profile.toxiproxy.model_copy(update={"url": stack.toxiproxy_url}),
            "dependencies": dependencies,
            "signals": signals,
            "alerts": None
            if profile.alerts is None
            else profile.alerts.model_copy(update={"prometheus_url": stack.prometheus_url}),
        }
    ).with_folder(profile.folder)


def choose_mix(profile: TargetProfile, scenario: str | None) -> tuple[str, dict[str, int]]:
    """The named mix of the profile (its first one when none is named)."""
    mixes = profile.traffic.mixes
    if not mixes:
        raise ConfigError(
            f"target profile {profile.name} has no traffic.mixes: add one, e.g. "
            "`mixes: {default: {MyUser: 1}}` (user class -> weight)"
        )
    name = scenario or next(iter(mixes))
    if name not in mixes:
        raise ConfigError(
            f"unknown scenario {name!r} for target {profile.name}; "
            f"expected one of {', '.join(mixes)} (the profile's traffic.mixes)"
        )
    return name, dict(mixes[name])


def _with_scheme(url: str, scheme: str) -> str:
    """The stack's scheme on a local URL: `stack up --tls` serves the same port over https."""
    if scheme == "https" and url.startswith("http://"):
        return "https://" + url.removeprefix("http://")
    return url


def build_plan(
    *,
    scenario: str | None,
    shape: str | None,
    rate: float | None,
    users: int | None,
    spawn_rate: float | None,
    duration: str | None,
    workers: int,
    tenants: int,
    seed: int,
    out: Path | None,
    via_proxy: bool,
    target: str | None,
    suite: Suite | None,
    experiment_source: str | None,
    slo_path: Path,
    slo_file: SloFile,
    rpo_grace: str,
    overrides: dict[str, float] | None = None,
    reuse_run_dir: bool = False,
    stack: StackSettings | None = None,
    profile: TargetProfile | None = None,
    warmup: bool = False,
    ready_timeout: str = "60s",
) -> RunPlan:
    """`duration` None: the suite's planned length (with its waits for the steady state).
    `scenario` None: the profile's first mix. `profile` None: the reference profile."""
    stack = stack or StackSettings()
    profile = profile or reference_profile(stack)
    scenario, mix = choose_mix(profile, scenario)
    if workers < 0:
        raise ConfigError(f"--workers must be 0 or more, not {workers}")
    ready_timeout_s = parse_timespan(ready_timeout, what="--ready-timeout")
    if ready_timeout_s <= 0:
        raise ConfigError("--ready-timeout must be positive (e.g. 60s, 2m)")
    requested_s = 0.0 if duration is None else parse_timespan(duration, what="--duration")
    if duration is not None and requested_s <= 0:
        raise ConfigError("--duration must be positive (e.g. 90s, 5m)")
    if duration is None and suite is None:
        raise ConfigError("--duration is needed for a run without experiments (e.g. 90s, 5m)")
    duration_s, notes = _duration_s(requested_s, suite, requested=duration is not None)
    url = target or (
        f"{stack.scheme}://{stack.host}:{stack.api_proxy_port}"
        if via_proxy
        else _with_scheme(profile.base_url, stack.scheme)
    )
    return RunPlan(
        profile=profile,
        scenario=scenario,
        mix=mix,
        shape=shape or ("constant-rate" if rate is not None else "steady"),
        rate_rps=rate,
        users=users,
        spawn_rate=spawn_rate,
        duration_s=duration_s,
        duration_text=duration if duration_s == requested_s and duration else f"{duration_s:.0f}s",
        min_duration_s=requested_s,
        workers=workers,
        ready_timeout_s=ready_timeout_s,
        tenants=tenants,
        seed=seed,
        out=out,
        reuse_run_dir=reuse_run_dir,
        target_url=url,
        via_proxy=via_proxy,
        # breakers are read from the service itself, not through a cut api proxy
        service_url=_with_scheme(profile.base_url, stack.scheme) if via_proxy else url,
        suite=suite,
        experiment_source=experiment_source,
        slo_path=slo_path,
        slo_file=slo_file,
        rpo_grace_s=parse_timespan(rpo_grace, what="--rpo-grace"),
        overrides=overrides or {},
        notes=notes,
        warmup=warmup,
    )


def _duration_s(
    requested_s: float, suite: Suite | None, *, requested: bool
) -> tuple[float, list[str]]:
    """The load's length: the request, or the suite's planned length with the longest
    waits for the steady state when that is longer (then a note says why)."""
    if suite is None:
        return requested_s, []
    planned_s = suite.planned_total_s + suite.wait_budget_s
    if requested_s >= planned_s:
        return requested_s, []
    if not requested:
        return planned_s, []
    waits = (
        f", up to {planned_s:.0f}s with the waits for the steady state between the "
        "experiments and after the last (the load ends once it holds again after the last "
        "one's recovery)"
        if suite.wait_budget_s
        else ""
    )
    return planned_s, [
        f"duration extended to {suite.planned_total_s:.0f}s: the experiments' warm-up, "
        f"methods, recoveries and cool-downs{waits}"
    ]
