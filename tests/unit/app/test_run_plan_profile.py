"""`gameday run --profile P`: the plan takes its target, mix and health URL from the
profile; a mix the profile lacks, or a profile without mixes, is one line before any load."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gameday.app import RunPlan, build_plan
from gameday.app.plan import REFERENCE_PROFILE, reference_profile
from gameday.app.target import check_ready, health_url
from gameday.errors import ConfigError
from gameday.settings import StackSettings
from gameday.slo.model import SloFile
from gameday.target import TargetProfile, load_profile, parse_profile

PROFILE = """
name: shop
base_url: http://127.0.0.1:{port}
health_url: /healthz
slo: shop-slo.yaml
traffic:
  locustfile: shop_locust.py
  mixes:
    browse: {{Browser: 9, Buyer: 1}}
    checkout: {{Buyer: 1}}
"""


def _profile(tmp_path: Path, port: int = 9) -> TargetProfile:
    path = tmp_path / "shop.yaml"
    path.write_text(PROFILE.format(port=port))
    return load_profile(path)


def _plan(profile: TargetProfile | None, scenario: str | None, **extra: object) -> RunPlan:
    fields: dict[str, object] = {
        "scenario": scenario,
        "shape": None,
        "rate": 20.0,
        "users": None,
        "spawn_rate": None,
        "duration": "10s",
        "workers": 0,
        "tenants": 5,
        "seed": 42,
        "out": None,
        "via_proxy": False,
        "target": None,
        "suite": None,
        "experiment_source": None,
        "slo_path": Path("slo.yaml"),
        "slo_file": SloFile(),
        "rpo_grace": "30s",
        "profile": profile,
        **extra,
    }
    return build_plan(**fields)  # type: ignore[arg-type]


def test_the_plan_targets_the_profile_and_its_first_mix(tmp_path: Path) -> None:
    plan = _plan(_profile(tmp_path, port=8123), None)
    assert plan.target_url == "http://127.0.0.1:8123"
    assert (plan.scenario, plan.mix) == ("browse", {"Browser": 9, "Buyer": 1})
    assert health_url(plan) == "http://127.0.0.1:8123/healthz"


def test_a_named_mix_is_chosen_and_target_moves_the_health_url(tmp_path: Path) -> None:
    plan = _plan(_profile(tmp_path), "checkout", target="http://127.0.0.1:7000")
    assert plan.mix == {"Buyer": 1}
    assert health_url(plan) == "http://127.0.0.1:7000/healthz"


def test_an_unknown_mix_names_the_profile_s_mixes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _plan(_profile(tmp_path), "search_mix")
    message = str(caught.value)
    assert "\n" not in message
    assert "'search_mix'" in message and "browse, checkout" in message


def test_a_profile_without_mixes_is_refused_in_one_line() -> None:
    bare = parse_profile("name: bare\nbase_url: http://127.0.0.1:1\ntraffic: {locustfile: x.py}\n")
    with pytest.raises(ConfigError, match="has no traffic.mixes") as caught:
        _plan(bare, None)
    assert "\n" not in str(caught.value)


def test_the_profile_s_slo_file_is_relative_to_its_folder(tmp_path: Path) -> None:
    assert _profile(tmp_path).slo_path() == (tmp_path / "shop-slo.yaml").resolve()


def test_no_profile_is_the_reference_service() -> None:
    plan = _plan(None, None)
    assert plan.profile.name == load_profile(REFERENCE_PROFILE).name == "reference"
    assert plan.scenario == "search_mix"


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200 if self.path == "/healthz" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_check_ready_passes_on_2xx_and_names_the_url_otherwise(
    tmp_path: Path, health_server: int
) -> None:
    check_ready(_plan(_profile(tmp_path, port=health_server), None))
    bad = _profile(tmp_path, port=health_server).model_copy(update={"health_url": "/down"})
    with pytest.raises(ConfigError) as caught:
        check_ready(_plan(bad, None))
    assert f"503 on its health URL http://127.0.0.1:{health_server}/down" in str(caught.value)
    assert "target profile shop" in str(caught.value)


def test_check_ready_says_when_nothing_answers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not answering its health URL"):
        check_ready(_plan(_profile(tmp_path, port=9), None))


def test_the_reference_profile_follows_the_stacks_ports() -> None:
    """A stack on other ports (gameday.toml, GAMEDAY_*_PORT: a private stack in a test)
    moves the reference profile with it: faults, breakers and readiness follow."""
    stack = StackSettings(
        toxiproxy_port=25474,
        service_port=25080,
        postgres_port=25432,
        postgres_proxy_port=26432,
        redis_port=25379,
        redis_proxy_port=26379,
    )
    profile = reference_profile(stack)
    assert profile.toxiproxy.url == "http://127.0.0.1:25474"
    assert profile.base_url == "http://127.0.0.1:25080"
    assert profile.signals is not None
    assert profile.signals.metrics_url == "http://127.0.0.1:25080/metrics"
    assert profile.dependencies["postgres"].listen == "127.0.0.1:26432"
    assert profile.dependencies["postgres"].upstream == "127.0.0.1:25432"
    assert profile.dependencies["redis"].upstream == "127.0.0.1:25379"
    assert profile.locustfiles() == load_profile(REFERENCE_PROFILE).locustfiles()
    plan = _plan(None, None, stack=stack)
    assert plan.target_url == "http://127.0.0.1:25080"
