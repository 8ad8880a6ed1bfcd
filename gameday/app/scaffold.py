"""`gameday init URL`: the starter files for testing a service of one's own, each built
from data and checked by the loader that will read it, so what is written is valid.

    files = plan_starter(
        "http://127.0.0.1:8080", dependencies=["db=127.0.0.1:5432"], paths=["/items"],
        folder=Path("load"),
    )
    write_starter(files)   # refuses (ConfigError) when any of them exists

writes, in `folder`:

    target.yaml                  the target profile (docs/targets.md): base_url, health_url,
                                 the Locust file and one mix, each dependency's proxy
    locustfile.py                one ordinary Locust HttpUser GETting the health URL or the paths
    slo.yaml                     the SLO file (docs/slo.md)
    experiments/NAME-latency.json  one latency experiment per dependency (docs/experiments.md)

A dependency's proxy listens on 127.0.0.1:(10000 + its upstream port % 10000), or the
next port up that is free here and below the kernel's ephemeral range: the same inputs
give the same port unless that one is taken. A Toxiproxy server on another host gets
0.0.0.0 and the first such port: this machine cannot see which ports are free there.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from gameday.app.starter_experiment import latency_experiment
from gameday.errors import ConfigError
from gameday.settings import EPHEMERAL_PORTS
from gameday.slo.loader import parse_slo
from gameday.target import Dependency, ToxiproxyServer, parse_profile

__all__ = [
    "PROFILE_FILE",
    "StarterFile",
    "plan_starter",
    "write_starter",
]

PROFILE_FILE = "target.yaml"
LOCUST_FILE = "locustfile.py"
SLO_FILE = "slo.yaml"
USER_CLASS = "Visitor"
MIX = "default"
LATENCY_MS = 300
FAULT_S = 20
LOOPBACK = ("127.0.0.1", "localhost", "::1")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class StarterFile:
    path: Path
    text: str
    what: str  # one line for the command's output


def check_url(url: str) -> str:
    """The service's base URL, without a trailing slash; a ConfigError naming the fix."""
    fix = "give the service's base URL, e.g. gameday init http://127.0.0.1:8080"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"URL {url!r} is not an http(s) URL with a host: {fix}")
    try:
        parts.port  # noqa: B018  (parsing it is the check)
    except ValueError:
        raise ConfigError(f"URL {url!r} has an invalid port: {fix}") from None
    if parts.username or parts.password:
        bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        raise ConfigError(  # the URL is not echoed: it holds a secret
            f"the URL for {bare} carries credentials, which are never written into the "
            "profile: drop them and give a token through auth (docs/targets.md)"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"URL {url!r} has a query or fragment: {fix}")
    return url.rstrip("/")


def _check_path(path: str, option: str) -> str:
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise ConfigError(
            f"{option} {path!r}: expected a path under the URL starting with /, "
            f"e.g. {option} /items"
        )
    return path


def _name_of(base_url: str) -> str:
    host = urlsplit(base_url).hostname or "target"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", host).strip("-._") or "target"
    return name if _NAME.match(name) else f"target-{name}"


@dataclass(frozen=True)
class _Wanted:
    name: str
    upstream: str


def _parse_dependency(pair: str) -> _Wanted:
    example = "e.g. --dependency postgres=127.0.0.1:5432"
    name, sep, upstream = pair.partition("=")
    if not sep or not name or not upstream:
        raise ConfigError(f"--dependency {pair!r}: expected NAME=HOST:PORT, {example}")
    if not _NAME.match(name):
        raise ConfigError(
            f"--dependency {pair!r}: {name!r} is not a name; use letters, digits, '.', '_' "
            f"and '-', {example}"
        )
    host, colon, port = upstream.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--dependency {pair!r}: {upstream!r} is not HOST:PORT, {example}")
    return _Wanted(name=name, upstream=upstream)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _listen_port(upstream_port: int, taken: set[int], *, check_here: bool) -> int:
    """10000 + the upstream's port % 10000, or the next port up that nothing holds."""
    port = 10000 + upstream_port % 10000
    while port < EPHEMERAL_PORTS.start:
        if port not in taken and (not check_here or _port_free(port)):
            return port
        port += 1
    raise ConfigError(
        f"no free port between {10000 + upstream_port % 10000} and {EPHEMERAL_PORTS.start - 1} "
        "for a proxy: free one, or edit the listen address in the profile afterwards"
    )


def _dependencies(pairs: list[str], toxiproxy_url: str) -> dict[str, Dependency]:
    local = urlsplit(toxiproxy_url).hostname in LOOPBACK
    listen_host = "127.0.0.1" if local else "0.0.0.0"  # reachable from the service's host
    chosen: dict[str, Dependency] = {}
    taken: set[int] = set()
    for pair in pairs:
        wanted = _parse_dependency(pair)
        if wanted.name in chosen:
            raise ConfigError(f"--dependency {wanted.name} is given twice: name each one once")
        upstream_port = int(wanted.upstream.rpartition(":")[2])
        taken.add(upstream_port)
        port = _listen_port(upstream_port, taken, check_here=local)
        taken.add(port)
        chosen[wanted.name] = Dependency(listen=f"{listen_host}:{port}", upstream=wanted.upstream)
    return chosen


def _yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100)


def _profile_text(
    name: str,
    base_url: str,
    health: str,
    toxiproxy: ToxiproxyServer,
    dependencies: dict[str, Dependency],
    auth_env: str | None,
    prometheus_url: str | None = None,
) -> str:
    data: dict[str, Any] = {
        "version": 1,
        "name": name,
        "base_url": base_url,
        "health_url": health,
        **(
            {"auth": {"header": "Authorization", "prefix": "Bearer ", "env": auth_env}}
            if auth_env
            else {}
        ),
        "traffic": {"locustfile": LOCUST_FILE, "mixes": {MIX: {USER_CLASS: 1}}},
        "slo": SLO_FILE,
        "toxiproxy": {"url": toxiproxy.url},
    }
    if dependencies:
        data["dependencies"] = {
            n: {"listen": d.listen, "upstream": d.upstream} for n, d in dependencies.items()
        }
    if prometheus_url:
        data["alerts"] = {"prometheus_url": prometheus_url}
    header = (
        f"# Target profile for {name}, written by `gameday init`; every field: docs/targets.md.\n"
        "# Point the service at each dependency's `listen` address (its Toxiproxy proxy),\n"
        f"# create the proxies with `gameday proxies apply --profile {PROFILE_FILE}`, then\n"
        f"# `gameday run --profile {PROFILE_FILE} --rate 20 --duration 1m`.\n"
        "# Signals (breaker states), alerts, ledger, processes and hooks are optional: see\n"
        "# the docs.\n"
    )
    return header + _yaml(data)


def _literal(text: str) -> str:
    """A Python string literal in double quotes (a JSON string is one)."""
    return json.dumps(text)


def _identifier(path: str, used: set[str]) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_").lower() or "root"
    name = f"get_{words}"
    if keyword.iskeyword(name) or not name.isidentifier():
        name = "get_path"
    unique, n = name, 2
    while unique in used:
        unique, n = f"{name}_{n}", n + 1
    used.add(unique)
    return unique


def _locustfile_text(name: str, paths: list[str]) -> str:
    used: set[str] = set()
    tasks = "\n".join(
        f"    @task\n"
        f"    def {_identifier(path, used)}(self) -> None:\n"
        f"        self.client.get({_literal(path)})\n"
        for path in paths
    )
    text = (
        f'"""Starter load for {name}, written by `gameday init`: {USER_CLASS} GETs\n'
        f"{', '.join(paths)}. It is an ordinary Locust file: edit it, add user classes and\n"
        f"name them in the profile's mixes ({PROFILE_FILE}). gameday gives every user class\n"
        "its histograms, run directory, report and verdict; it sets the host from the\n"
        'profile\'s base_url."""\n'
        "\n"
        "from locust import HttpUser, between, task\n"
        "\n"
        "\n"
        f"class {USER_CLASS}(HttpUser):\n"
        "    # The pause of a closed-model run (--users); with --rate, gameday schedules\n"
        "    # each arrival itself.\n"
        "    wait_time = between(0.5, 1.5)\n"
        "\n"
        f"{tasks}"
    )
    ast.parse(text)  # generated source: a bug here must never reach the user's folder
    return text


def _slo_text(name: str) -> str:
    data: dict[str, Any] = {
        "version": 1,
        "availability_pct": 99.9,
        "sustained_window": "10s",
        "overall": {
            "latency": {"p95": "500ms", "p99": "1s"},
            "error_rate_pct": 0.1,
            "min_achieved_ratio": 0.95,
        },
        "experiment_defaults": {"rto": "60s"},
    }
    header = (
        f"# SLO file for {name}, written by `gameday init`; every field: docs/slo.md.\n"
        "# What a run must achieve: p95/p99 latency and server errors over all requests,\n"
        "# and, with --rate, at least 95% of the scheduled requests completed. Each fault\n"
        "# window must recover (every second meeting these for sustained_window) within\n"
        "# rto. Add per-endpoint objectives under `endpoints:` keyed by request name\n"
        "# (`GET /items`), and rpo/max_lost_writes once the profile has a ledger.\n"
    )
    return header + _yaml(data)


def plan_starter(
    url: str,
    *,
    dependencies: list[str],
    paths: list[str],
    folder: Path,
    health: str = "/",
    name: str | None = None,
    toxiproxy_url: str | None = None,
    auth_env: str | None = None,
    prometheus_url: str | None = None,
) -> list[StarterFile]:
    """The files `gameday init` writes, checked by their loaders; nothing is written."""
    base_url = check_url(url)
    health = _check_path(health, "--health")
    paths = [_check_path(p, "--path") for p in paths] or [health]
    name = name or _name_of(base_url)
    if not _NAME.match(name):
        raise ConfigError(f"--name {name!r}: use letters, digits, '.', '_' and '-'")
    try:
        toxiproxy = ToxiproxyServer(url=toxiproxy_url) if toxiproxy_url else ToxiproxyServer()
    except ValueError:
        raise ConfigError(
            f"--toxiproxy {toxiproxy_url!r} is not an http(s) URL, e.g. http://127.0.0.1:8474"
        ) from None
    if auth_env is not None and not _ENV_NAME.match(auth_env):
        raise ConfigError(  # not echoed: a token pasted here must not reach a log
            "--auth-env: not an environment variable name (letters, digits, _); "
            "name the variable that holds the token, not the token"
        )
    if prometheus_url is not None and not prometheus_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"--prometheus {prometheus_url!r} is not an http(s) URL, e.g. http://127.0.0.1:9090"
        )
    chosen = _dependencies(dependencies, toxiproxy.url)

    profile = _profile_text(
        name, base_url, health, toxiproxy, chosen, auth_env, prometheus_url=prometheus_url
    )
    parse_profile(profile, name=str(folder / PROFILE_FILE))
    slo = _slo_text(name)
    parse_slo(slo, name=str(folder / SLO_FILE))
    files = [
        StarterFile(folder / PROFILE_FILE, profile, f"target profile ({len(chosen)} dependencies)"),
        StarterFile(
            folder / LOCUST_FILE,
            _locustfile_text(name, paths),
            f"Locust file: {USER_CLASS} GETs {', '.join(paths)}",
        ),
        StarterFile(folder / SLO_FILE, slo, "SLO file"),
    ]
    for dependency, proxy in chosen.items():
        experiment = (
            json.dumps(
                latency_experiment(dependency, latency_ms=LATENCY_MS, fault_s=FAULT_S), indent=2
            )
            + "\n"
        )
        files.append(
            StarterFile(
                folder / "experiments" / f"{dependency}-latency.json",
                experiment,
                f"experiment: +{LATENCY_MS} ms on {dependency} for {FAULT_S} s "
                f"(proxy {proxy.listen} -> {proxy.upstream})",
            )
        )
    return files


def write_starter(files: list[StarterFile]) -> None:
    """Writes every file, or none: an existing one is refused before anything is written."""
    existing = [f.path for f in files if f.path.exists()]
    if existing:
        raise ConfigError(
            f"{existing[0]} already exists; gameday init never overwrites: remove it or "
            "choose another folder with --dir"
        )
    for file in files:
        file.path.parent.mkdir(parents=True, exist_ok=True)
        with file.path.open("x") as out:  # "x": a file that appeared meanwhile is not replaced
            out.write(file.text)
