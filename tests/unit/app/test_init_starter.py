"""`gameday init`'s starter files (gameday.app.scaffold): each one read back by the
loader that will read it in a run, the refusals, and the proxies' listen ports."""

from __future__ import annotations

import ast
import json
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gameday.app.scaffold import plan_starter, write_starter
from gameday.chaos.configuration import CONFIGURATION_KEYS
from gameday.chaos.experiment import load_experiment
from gameday.errors import ConfigError
from gameday.slo.loader import load_slo
from gameday.target import load_profile

URL = "http://127.0.0.1:8080"


def _written(folder: Path, **kwargs: object) -> list[Path]:
    arguments: dict[str, object] = {"dependencies": [], "paths": [], **kwargs}
    files = plan_starter(URL, folder=folder, **arguments)  # type: ignore[arg-type]
    write_starter(files)
    return sorted(f.path.relative_to(folder) for f in files)


def test_it_writes_the_profile_the_locust_file_the_slo_file_and_one_experiment_per_dependency(
    tmp_path: Path,
) -> None:
    written = _written(tmp_path, dependencies=["db=127.0.0.1:5432"])
    assert written == [
        Path("experiments/db-latency.json"),
        Path("locustfile.py"),
        Path("slo.yaml"),
        Path("target.yaml"),
    ]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == written


def test_without_a_dependency_there_is_no_experiment(tmp_path: Path) -> None:
    assert not any(p.parts[0] == "experiments" for p in _written(tmp_path))


def test_the_profile_loads_with_the_url_health_mix_and_the_dependencys_proxy(
    tmp_path: Path,
) -> None:
    _written(tmp_path, dependencies=["db=10.0.0.5:5432"], health="/healthz")
    profile = load_profile(tmp_path / "target.yaml")
    assert profile.base_url == URL
    assert profile.health_endpoint == f"{URL}/healthz"
    assert profile.traffic.mixes == {"default": {"Visitor": 1}}
    assert profile.locustfiles() == [(tmp_path / "locustfile.py").resolve()]
    assert profile.slo_path() == (tmp_path / "slo.yaml").resolve()
    assert profile.toxiproxy.url == "http://127.0.0.1:21474"
    db = profile.dependencies["db"]
    assert db.upstream == "10.0.0.5:5432"
    assert db.listen.startswith("127.0.0.1:")
    assert 15432 <= int(db.listen.rpartition(":")[2]) < 32768


def test_the_slo_file_loads_with_an_rto_and_no_rpo_since_nothing_reconciles_writes(
    tmp_path: Path,
) -> None:
    _written(tmp_path, dependencies=["db=127.0.0.1:5432"])
    slo = load_slo(tmp_path / "slo.yaml")
    assert slo.overall.latency.p95 == 500.0
    assert slo.overall.error_rate_pct == 0.1
    assert slo.experiment_defaults.rto == 60.0
    assert slo.experiment_defaults.rpo is None
    assert slo.experiment_defaults.max_lost_writes is None


def test_the_experiment_adds_latency_to_the_named_dependency_and_removes_it(
    tmp_path: Path,
) -> None:
    _written(tmp_path, dependencies=["db=127.0.0.1:5432"])
    path = tmp_path / "experiments" / "db-latency.json"
    data = json.loads(path.read_text())
    experiment = load_experiment(path)  # the check `gameday run --experiment` makes
    assert experiment.planned_method_s == 20 + 10
    inject, remove = (a["provider"] for a in data["method"])
    assert (inject["func"], inject["arguments"]["proxy"]) == ("add_latency", "db")
    assert inject["arguments"]["latency_ms"] == 300
    assert (remove["func"], remove["arguments"]) == (
        "remove_fault",
        {"proxy": "db", "fault": "latency", "latency_ms": 300},
    )
    assert [r["provider"]["func"] for r in data["rollbacks"]] == ["remove_fault"]
    # a plain `chaos run --var toxiproxy_url=...` keeps only declared keys
    assert {key: data["configuration"][key] for key in CONFIGURATION_KEYS} == dict.fromkeys(
        CONFIGURATION_KEYS
    )


def test_an_experiment_per_dependency_each_on_its_own_proxy(tmp_path: Path) -> None:
    _written(tmp_path, dependencies=["db=127.0.0.1:5432", "cache=127.0.0.1:6379"])
    for name in ("db", "cache"):
        data = json.loads((tmp_path / "experiments" / f"{name}-latency.json").read_text())
        assert {a["provider"]["arguments"]["proxy"] for a in data["method"]} == {name}


def test_the_locust_file_gets_the_health_path_by_default_and_the_given_paths_otherwise(
    tmp_path: Path,
) -> None:
    _written(tmp_path / "health", health="/healthz")
    _written(tmp_path / "paths", paths=["/items", "/items/1", "/it's"])
    assert _requested(tmp_path / "health" / "locustfile.py") == ["/healthz"]
    assert _requested(tmp_path / "paths" / "locustfile.py") == ["/items", "/items/1", "/it's"]


def _requested(path: Path) -> list[str]:
    calls = [
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
    ]
    return [ast.literal_eval(call.args[0]) for call in calls]


def test_the_locust_file_is_an_ordinary_locust_httpuser_with_one_task_per_path(
    tmp_path: Path,
) -> None:
    _written(tmp_path, paths=["/a", "/b-c", "/b_c"])
    locustfile = str(tmp_path / "locustfile.py")
    # Imported in its own process: locust monkey-patches the standard library.
    check = textwrap.dedent(
        f"""
        import importlib.util, locust
        spec = importlib.util.spec_from_file_location("starter", {locustfile!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert issubclass(module.Visitor, locust.HttpUser)
        print(len(module.Visitor.tasks))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"


def test_an_existing_file_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "slo.yaml").write_text("mine\n")
    files = plan_starter(URL, dependencies=["db=127.0.0.1:5432"], paths=[], folder=tmp_path)
    with pytest.raises(ConfigError, match=r"slo.yaml already exists; gameday init never"):
        write_starter(files)
    assert [p.name for p in tmp_path.rglob("*")] == ["slo.yaml"]
    assert (tmp_path / "slo.yaml").read_text() == "mine\n"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com", "is not an http(s) URL with a host"),
        ("127.0.0.1:8080", "is not an http(s) URL with a host"),
        ("http://", "is not an http(s) URL with a host"),
        ("http://example.com:99999", "has an invalid port"),
        ("http://me:secret@example.com", "carries credentials"),
        ("http://example.com/?q=1", "has a query or fragment"),
    ],
    ids=["scheme", "no-scheme", "no-host", "port", "credentials", "query"],
)
def test_a_bad_url_is_refused_naming_the_problem(tmp_path: Path, url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)) as caught:
        plan_starter(url, dependencies=[], paths=[], folder=tmp_path)
    assert "\n" not in str(caught.value)
    assert "secret" not in str(caught.value)  # never echoed


@pytest.mark.parametrize(
    ("pair", "problem"),
    [
        ("db", "expected NAME=HOST:PORT"),
        ("db=127.0.0.1", "is not HOST:PORT"),
        ("db=:5432", "is not HOST:PORT"),
        ("db=h:0", "is not HOST:PORT"),
        ("d b=h:1", "is not a name"),
    ],
)
def test_a_bad_dependency_is_refused_naming_the_form(
    tmp_path: Path, pair: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        plan_starter(URL, dependencies=[pair], paths=[], folder=tmp_path)


def test_a_path_not_starting_with_a_slash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--path 'items': expected a path .* starting with /"):
        plan_starter(URL, dependencies=[], paths=["items"], folder=tmp_path)


def test_the_listen_port_is_deterministic_and_skips_a_taken_one(tmp_path: Path) -> None:
    def listen(upstream_port: int) -> int:
        files = plan_starter(
            URL, dependencies=[f"db=127.0.0.1:{upstream_port}"], paths=[], folder=tmp_path
        )
        profile = [f for f in files if f.path.name == "target.yaml"][0].text
        line = next(x for x in profile.splitlines() if "listen:" in x)
        return int(line.rpartition(":")[2])

    first = listen(4791)
    assert first == listen(4791)
    assert first >= 14791
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", first))
        holder.listen()
        moved = listen(4791)
    assert moved > first


def test_two_dependencies_never_share_a_listen_port(tmp_path: Path) -> None:
    _written(tmp_path, dependencies=["a=10.0.0.1:5432", "b=10.0.0.2:5432"])
    dependencies = load_profile(tmp_path / "target.yaml").dependencies
    assert dependencies["a"].listen != dependencies["b"].listen


def test_a_remote_toxiproxy_gets_proxies_listening_on_every_interface(tmp_path: Path) -> None:
    _written(
        tmp_path, dependencies=["db=db.internal:5432"], toxiproxy_url="http://chaos.internal:8474"
    )
    profile = load_profile(tmp_path / "target.yaml")
    assert profile.toxiproxy.url == "http://chaos.internal:8474"
    assert profile.dependencies["db"].listen == "0.0.0.0:15432"


def test_auth_env_names_the_variable_and_the_token_is_read_from_it_at_run_time(
    tmp_path: Path,
) -> None:
    _written(tmp_path, auth_env="STAGING_TOKEN")
    auth = load_profile(tmp_path / "target.yaml").auth
    assert auth is not None
    assert (auth.header, auth.prefix, auth.env) == ("Authorization", "Bearer ", "STAGING_TOKEN")


def test_a_token_given_as_auth_env_is_refused_and_never_echoed(tmp_path: Path) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"
    with pytest.raises(ConfigError, match="--auth-env: not an environment variable name") as e:
        plan_starter(URL, dependencies=[], paths=[], folder=tmp_path, auth_env=token)
    assert token not in str(e.value)


def test_prometheus_gives_the_profile_its_alerts_and_none_is_written_without_it(
    tmp_path: Path,
) -> None:
    _written(tmp_path / "with", prometheus_url="http://127.0.0.1:9090")
    alerts = load_profile(tmp_path / "with" / "target.yaml").alerts
    assert alerts is not None and alerts.prometheus_url == "http://127.0.0.1:9090"
    _written(tmp_path / "without")
    assert load_profile(tmp_path / "without" / "target.yaml").alerts is None


def test_a_bad_prometheus_url_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--prometheus 'prom:9090' is not an http"):
        _written(tmp_path, prometheus_url="prom:9090")
    assert not any(tmp_path.iterdir())
