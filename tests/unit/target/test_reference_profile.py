"""targets/reference.yaml agrees with what the stack and the load use today, so the
profile and the code cannot drift apart."""

from __future__ import annotations

import os
from pathlib import Path

import jwt
import pytest

from gameday.load.locustfiles import check_locustfiles
from gameday.seed import tenant_names
from gameday.settings import StackSettings
from gameday.stack import DEPENDENCIES
from gameday.stack.service_env import service_env
from gameday.target import HookContext, call_hook, load_profile
from gameday.target.hooks import load_entry_point
from service.settings import DEV_JWT_KEY, RateLimitSettings

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "targets" / "reference.yaml"


def test_the_reference_profile_is_valid_and_points_at_the_service() -> None:
    profile = load_profile(REFERENCE)
    settings = StackSettings()
    assert profile.base_url == settings.service_url
    assert profile.health_endpoint == f"{settings.service_url}/health/ready"
    assert profile.toxiproxy.url == settings.toxiproxy_url


def test_its_dependencies_are_the_stacks_with_the_stacks_proxy_ports() -> None:
    s = StackSettings()
    profile = load_profile(REFERENCE)
    ports = {
        "postgres": (s.postgres_proxy_port, s.postgres_port),
        "redis": (s.redis_proxy_port, s.redis_port),
        "rabbitmq": (s.rabbitmq_proxy_port, s.rabbitmq_port),
        "opensearch": (s.opensearch_proxy_port, s.opensearch_port),
    }
    assert sorted(profile.dependencies) == sorted(DEPENDENCIES) == sorted(ports)
    for name, (listen, upstream) in ports.items():
        dependency = profile.dependencies[name]
        assert dependency.listen == f"{s.host}:{listen}", name
        assert dependency.upstream == f"{s.host}:{upstream}", name


MIXES = load_profile(REFERENCE).traffic.mixes
NOISY_TENANT = "tenant-noisy"


def test_its_mixes_name_only_classes_its_locust_file_defines() -> None:
    defined = set(check_locustfiles(load_profile(REFERENCE).locustfiles()))
    assert set(MIXES) >= {"search_mix", "write_heavy", "read_only", "noisy_neighbour"}
    for name, mix in MIXES.items():
        assert set(mix) <= defined, name


def test_its_locust_file_is_the_reference_scenarios() -> None:
    assert load_profile(REFERENCE).locustfiles() == [ROOT / "scenarios" / "locustfile.py"]


def test_its_breakers_read_the_services_gauge_for_every_dependency() -> None:
    profile = load_profile(REFERENCE)
    assert profile.signals is not None
    assert profile.signals.metrics_url == f"{StackSettings().service_url}/metrics"
    for name in DEPENDENCIES:
        breaker = profile.signals.breakers[name]
        assert breaker.metric == "service_breaker_state"
        assert breaker.labels == {"dependency": name}
        assert breaker.values == {0: "closed", 1: "half-open", 2: "open"}


def test_its_hooks_are_the_services_own_and_importable() -> None:
    hooks = load_profile(REFERENCE).hooks
    assert hooks.model_dump() == {
        name: f"service.gameday_hooks:{name}" for name in ("seed", "warmup", "token", "options")
    }
    for name in ("seed", "warmup", "token", "options"):
        assert callable(load_entry_point(getattr(hooks, name), field=f"hooks.{name}"))


def test_its_token_hook_signs_a_token_the_service_accepts_for_the_first_tenant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [n for n in os.environ if n.startswith("SERVICE_")]:
        monkeypatch.delenv(name)
    profile = load_profile(REFERENCE)
    context = HookContext(
        base_url=profile.base_url, tenants=["tenant-3"], params={"role": "admin", "ttl_s": 90}
    )
    claims = jwt.decode(
        call_hook(profile, "token", context),
        DEV_JWT_KEY,
        algorithms=["HS256"],
        audience="gameday-service",
    )
    assert (claims["tenant"], claims["role"], claims["exp"] - claims["iat"]) == (
        "tenant-3",
        "admin",
        90,
    )


@pytest.mark.parametrize(
    ("mix", "noisy"),
    [(MIXES["noisy_neighbour"], True), (MIXES["search_mix"], False)],
    ids=["noisy_neighbour-has-the-abuser", "search_mix-has-none"],
)
def test_its_options_hook_gives_every_tenant_a_token_and_the_loads_weights(
    mix: dict[str, int], noisy: bool
) -> None:
    profile = load_profile(REFERENCE)
    tenants = tenant_names(7)
    context = HookContext(base_url=profile.base_url, tenants=tenants, duration_s=60, mix=mix)
    options = call_hook(profile, "options", context)
    assert options["tenant_weights"] == dict(
        zip(tenants, [40.0, 25.0, 15.0, 10.0, 10.0, 5.0, 5.0], strict=True)
    )
    expected = tenants + ([NOISY_TENANT] if noisy else [])
    assert list(options["tokens"]) == expected
    for tenant, token in options["tokens"].items():
        claims = jwt.decode(token, DEV_JWT_KEY, algorithms=["HS256"], audience="gameday-service")
        assert (claims["tenant"], claims["role"]) == (tenant, "user")
        assert claims["exp"] - claims["iat"] == 60 + 3600


def test_the_noisy_tenant_is_one_name_in_the_load_the_stack_and_the_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gameday.stack import service_env as stack_env
    from service import gameday_hooks

    assert gameday_hooks.NOISY_TENANT == stack_env.NOISY_TENANT == NOISY_TENANT
    # scenarios/ imports locust (it patches the stdlib): read its constant, never import it
    actions = (ROOT / "scenarios" / "actions.py").read_text()
    assert f'NOISY_TENANT = "{NOISY_TENANT}"' in actions
    overrides = service_env(StackSettings())["SERVICE_RATELIMIT_TENANT_OVERRIDES"]
    monkeypatch.setenv("SERVICE_RATELIMIT_TENANT_OVERRIDES", overrides)  # as the service reads it
    assert RateLimitSettings().tenant_overrides == {NOISY_TENANT: (2.0, 4)}
