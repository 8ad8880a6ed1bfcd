"""targets/reference.yaml agrees with what the stack and the load use today, so the
profile and the code cannot drift apart."""

from __future__ import annotations

from pathlib import Path

from gameday.load.config import MIXES
from gameday.settings import StackSettings
from gameday.stack import DEPENDENCIES
from gameday.target import load_profile

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


def test_its_mixes_are_the_loads_mixes() -> None:
    assert load_profile(REFERENCE).traffic.mixes == MIXES


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
