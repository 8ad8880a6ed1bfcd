"""What a run needs from its target before the load starts: that it answers its health
URL, the auth header, and what the profile's hooks hand to the Locust files.

    check_ready(plan)                      # ConfigError in one line when it does not answer
    check_alerts(plan)                     # its Prometheus answers, detect_within's alerts exist
    config = prepare_load(plan, config, run_dir)   # mix, Locust files, headers, options
"""

from __future__ import annotations

from pathlib import Path

import httpx

from gameday.app.plan import RunPlan
from gameday.chaos.alerts import PrometheusUnreachable, alert_rule_names
from gameday.errors import ConfigError
from gameday.load.config import LoadConfig
from gameday.load.locustfiles import check_locustfiles
from gameday.seed.generator import tenant_names
from gameday.target import HookContext, TargetProfile, call_hook
from gameday.target.auth import auth_headers


def health_url(plan: RunPlan) -> str:
    """The profile's health URL, on the run's target URL when it is a path (--target and
    --via-proxy move it)."""
    health = plan.profile.health_url
    return health if "://" in health else plan.target_url + health


def check_ready(plan: RunPlan) -> None:
    url = health_url(plan)
    hint = (
        f"start it, or fix base_url/health_url in target profile {plan.profile.name} "
        "(the reference service: `gameday stack up`)"
    )
    try:
        response = httpx.get(url, timeout=5.0)
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"the service is not answering its health URL {url} ({type(exc).__name__}): {hint}"
        ) from exc
    if not response.is_success:
        raise ConfigError(
            f"the service answered {response.status_code} on its health URL {url}: {hint}"
        )


def check_alerts(plan: RunPlan) -> tuple[RunPlan, str | None]:
    """In a run with experiments, before any load: the profile's Prometheus answers, and
    every alert the SLO file's `detect_within` names is one of its rules (ConfigError in
    one line otherwise). A Prometheus that does not answer when no objective needs it is
    a warning: the plan comes back without alerts, and the warning says so. Without
    experiments nothing is detected, so nothing is checked."""
    if plan.suite is None:
        return plan, None
    wanted = plan.slo_file.detect_within_alerts()
    alerts, name = plan.profile.alerts, plan.profile.name
    if alerts is None:
        if wanted:
            raise ConfigError(
                f"{plan.slo_path}: detect_within names {', '.join(sorted(wanted))}, but target "
                f"profile {name} has no alerts: add `alerts: {{prometheus_url: URL}}` to the "
                "profile (its Prometheus evaluates the rules), or remove detect_within"
            )
        return plan, None
    try:
        defined = alert_rule_names(alerts.prometheus_url)
    except PrometheusUnreachable as exc:
        if wanted:
            raise ConfigError(
                f"{exc}: start it (the stack's: `gameday stack up`), or fix "
                f"alerts.prometheus_url in target profile {name}; detect_within in "
                f"{plan.slo_path} needs it"
            ) from None
        unwatched = plan.model_copy(
            update={"profile": plan.profile.model_copy(update={"alerts": None})}
        )
        return unwatched, f"alerts not watched in this run: {exc}"
    unknown = sorted(wanted - defined)
    if unknown:
        raise ConfigError(
            f"{plan.slo_path}: detect_within names {', '.join(unknown)}, which no alerting rule "
            f"of Prometheus at {alerts.prometheus_url} defines; expected one of "
            f"{', '.join(sorted(defined)) or '(it has no alerting rules)'}"
        )
    return plan, None


def hook_context(plan: RunPlan, run_dir: Path | None) -> HookContext:
    return HookContext(
        base_url=plan.target_url,
        tenants=tenant_names(plan.tenants),
        mix=plan.mix,
        seed=plan.seed,
        duration_s=plan.duration_s,
        run_dir=run_dir,
    )


def prepare_load(plan: RunPlan, config: LoadConfig, run_dir: Path) -> LoadConfig:
    """The run's LoadConfig with the target's part: its Locust files, the mix, the auth
    header and the options its hooks return; with --warmup, the warm-up hook runs here."""
    profile = plan.profile
    context = hook_context(plan, run_dir)
    options = call_hook(profile, "options", context) if profile.hooks.options else {}
    if plan.warmup:
        call_hook(profile, "warmup", context)
    return config.model_copy(
        update={
            "mix": plan.mix,
            "locustfiles": [str(f) for f in profile.locustfiles()],
            "headers": headers(profile),
            "options": options or {},
            "run_dir": str(run_dir),
        }
    )


def headers(profile: TargetProfile) -> dict[str, str]:
    """The profile's auth header, its token read now from env, file or command. (The token
    hook serves `gameday token` and `gameday seed`; a load that signs its own tokens, as
    the reference's does per tenant, gets them from the options hook.)"""
    if profile.auth is None:
        return {}
    return auth_headers(profile.auth, folder=profile.folder)


def check_mix(plan: RunPlan) -> None:
    """The Locust files import (in a subprocess: this process never imports locust) and
    define every user class the mix names."""
    defined = check_locustfiles(plan.profile.locustfiles())
    missing = [name for name in plan.mix if name not in defined]
    if missing:
        raise ConfigError(
            f"mix {plan.scenario} of target {plan.profile.name} names user class(es) "
            f"{', '.join(missing)} that its Locust files do not define; they define: "
            f"{', '.join(sorted(defined)) or 'none'}"
        )
