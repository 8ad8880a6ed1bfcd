"""`gameday proxies apply|status|reset` as a user runs them, against a private
toxiproxy-server on a free port in 25000-25999 (never the stack's): no stack needed.
The binary is the one `gameday stack install` builds (`make test` runs it first)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gameday.toxiproxy import Proxy, Toxic, ToxiproxyClient
from tests.ports import describe, private_ports
from tests.toxiproxy_server import private_toxiproxy_server

ROOT = Path(__file__).resolve().parents[3]
GAMEDAY = [sys.executable, "-m", "gameday.cli"]
PRIVATE_PORTS = private_ports()


def _gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def _free_ports(count: int, taken: frozenset[int] = frozenset()) -> list[int]:
    found: list[int] = []
    for port in PRIVATE_PORTS:
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"no free ports in {describe(PRIVATE_PORTS)}")


@dataclass
class Server:
    url: str
    ports: list[int]  # free ports for the proxies' listen addresses


@pytest.fixture(scope="module")
def toxiproxy() -> Iterator[Server]:
    port, *proxy_ports = _free_ports(5)
    with private_toxiproxy_server(port) as url:
        yield Server(url=url, ports=proxy_ports)


def _write_profile(path: Path, url: str, listen: dict[str, int]) -> Path:
    lines = [
        "name: private",
        "base_url: http://127.0.0.1:25999",
        "traffic: {locustfile: locustfile.py}",
        f"toxiproxy: {{url: {url}, timeout_s: 3}}",
        "dependencies:",
        *(
            f"  {name}: {{listen: 127.0.0.1:{port}, upstream: 127.0.0.1:{port + 1000}}}"
            for name, port in listen.items()
        ),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def profile(toxiproxy: Server, tmp_path: Path) -> Iterator[Path]:
    listen = {"db": toxiproxy.ports[0], "cache": toxiproxy.ports[1]}
    yield _write_profile(tmp_path / "private.yaml", toxiproxy.url, listen)
    with ToxiproxyClient(toxiproxy.url) as client:  # this test's proxies only
        for name in listen:
            client.delete(name)


def test_apply_creates_the_proxies_and_a_second_apply_changes_nothing(
    toxiproxy: Server, profile: Path
) -> None:
    first = _gameday("proxies", "apply", "--profile", str(profile))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "db           created" in first.stdout and "cache        created" in first.stdout
    with ToxiproxyClient(toxiproxy.url) as client:
        found = client.proxies()
    assert found["db"].listen == f"127.0.0.1:{toxiproxy.ports[0]}"
    assert found["db"].upstream == f"127.0.0.1:{toxiproxy.ports[0] + 1000}"

    second = _gameday("proxies", "apply", "--profile", str(profile))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "db           unchanged" in second.stdout
    assert "cache        unchanged" in second.stdout


def test_status_exits_0_when_all_match_and_1_after_a_proxy_is_deleted_behind_its_back(
    toxiproxy: Server, profile: Path
) -> None:
    assert _gameday("proxies", "apply", "--profile", str(profile)).returncode == 0
    fine = _gameday("proxies", "status", "--profile", str(profile))
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "missing" not in fine.stdout and "differs" not in fine.stdout

    with ToxiproxyClient(toxiproxy.url) as client:
        client.delete("cache")
    broken = _gameday("proxies", "status", "--profile", str(profile))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "cache: missing" in broken.stdout
    assert "db: " not in broken.stdout


def test_status_exits_1_when_a_proxys_upstream_differs_from_the_profile(
    toxiproxy: Server, profile: Path
) -> None:
    assert _gameday("proxies", "apply", "--profile", str(profile)).returncode == 0
    with ToxiproxyClient(toxiproxy.url) as client:
        client.delete("db")
        client.populate(
            [Proxy(name="db", listen=f"127.0.0.1:{toxiproxy.ports[0]}", upstream="127.0.0.1:1")]
        )
    result = _gameday("proxies", "status", "--profile", str(profile))
    assert result.returncode == 1
    assert "db: differs" in result.stdout
    fixed = _gameday("proxies", "apply", "--profile", str(profile))
    assert "db           updated" in fixed.stdout
    assert _gameday("proxies", "status", "--profile", str(profile)).returncode == 0


def test_reset_removes_the_toxics_and_enables_the_proxies(toxiproxy: Server, profile: Path) -> None:
    assert _gameday("proxies", "apply", "--profile", str(profile)).returncode == 0
    with ToxiproxyClient(toxiproxy.url) as client:
        client.add_toxic(
            "db", Toxic(name="db-latency", type="latency", attributes={"latency": 300})
        )
        client.set_enabled("cache", False)
    listed = _gameday("proxies", "status", "--profile", str(profile))
    assert "db-latency" in listed.stdout

    result = _gameday("proxies", "reset", "--profile", str(profile))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "toxics removed: db-latency" in result.stdout
    with ToxiproxyClient(toxiproxy.url) as client:
        found = client.proxies()
    assert found["db"].toxics == []
    assert found["cache"].enabled


def test_an_unreachable_toxiproxy_is_one_line_naming_the_url_and_exit_2(
    toxiproxy: Server, tmp_path: Path
) -> None:
    (dead,) = _free_ports(1, taken=frozenset(toxiproxy.ports))
    url = f"http://127.0.0.1:{dead}"
    profile = _write_profile(tmp_path / "dead.yaml", url, {"db": toxiproxy.ports[2]})
    result = _gameday("proxies", "apply", "--profile", str(profile))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"Toxiproxy at {url} is unreachable" in lines[0]
    assert f"correct toxiproxy.url in {profile}" in lines[0]
    assert result.stdout == ""


def test_a_listen_port_taken_by_another_process_is_one_line_naming_the_port(
    toxiproxy: Server, tmp_path: Path
) -> None:
    port = toxiproxy.ports[3]
    profile = _write_profile(tmp_path / "taken.yaml", toxiproxy.url, {"blocked": port})
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = _gameday("proxies", "apply", "--profile", str(profile))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"proxy blocked: port {port} (127.0.0.1:{port}) is already taken" in lines[0]
    with ToxiproxyClient(toxiproxy.url) as client:
        assert "blocked" not in client.proxies()


def test_a_bad_profile_is_one_line_exit_2_and_touches_nothing(
    toxiproxy: Server, tmp_path: Path
) -> None:
    bad = _write_profile(tmp_path / "bad.yaml", toxiproxy.url, {"typo": toxiproxy.ports[0]})
    bad.write_text(bad.read_text().replace("listen:", "lisen:"))
    result = _gameday("proxies", "apply", "--profile", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert (
        f"{bad}:6: dependencies.typo.lisen: unknown field; expected one of listen, upstream"
        in (lines[0])
    )
    with ToxiproxyClient(toxiproxy.url) as client:
        assert "typo" not in client.proxies()
