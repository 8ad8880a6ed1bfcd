"""The service over HTTPS with the stack's generated CA: verified clients get answers,
plain HTTP and clients without the CA do not; Locust's users (scenarios.tls) verify too."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_helpers import ServiceUnderTest, free_port, stop_processes

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack.service import tls_argv
from gameday.stack.tls import TlsFiles, ensure_certificates

LOCUST_PROBE = """
import locust  # first: it patches the standard library (own process only)
import sys
from locust.env import Environment
from scenarios.tls import client_tls
from scenarios.users import GamedayUser

class Probe(GamedayUser):  # configured from GAMEDAY_CA_BUNDLE, as in a run
    abstract = False
    host = sys.argv[1]

class Stranger(Probe):  # the same, trusting a CA that did not sign the service's certificate
    ssl_context_factory = client_tls({"GAMEDAY_CA_BUNDLE": sys.argv[2]}).context_factory

for user_class in (Probe, Stranger):
    response = user_class(Environment(user_classes=[user_class])).client.get("/health/live")
    error = getattr(response, "error", None)
    said = f"{type(error).__name__}:{error}".replace(" ", "_") if error else "-"
    print(response.status_code, said)
"""


def _trusting(files: TlsFiles) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=files.ca_cert)


@pytest.fixture(scope="module")
def tls_service(
    service_under_test: ServiceUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, TlsFiles]]:
    """A second service in the session's namespace, started as `stack up --tls` does."""
    state = tmp_path_factory.mktemp("tls-state")
    settings = StackSettings(state_dir=state, tls=True)
    files = ensure_certificates(settings.tls_dir)
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--factory", "service.main:create_app"]
    argv += ["--host", "127.0.0.1", "--port", str(port), *tls_argv(settings)]
    env = {**service_under_test.env, "SERVICE_RETENTION_ENABLED": "false"}
    with open(service_under_test.logs / "tls-service.log", "wb") as log:
        proc = subprocess.Popen(
            argv, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"TLS service exited; see {service_under_test.logs}"
            try:
                if httpx.get(f"{url}/health/live", verify=_trusting(files)).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.25)
        yield url, files
    finally:
        stop_processes(proc)


def test_https_with_the_local_ca_answers(tls_service: tuple[str, TlsFiles]) -> None:
    url, files = tls_service
    for host in ("127.0.0.1", "localhost"):
        response = httpx.get(
            url.replace("127.0.0.1", host) + "/health/live", verify=_trusting(files)
        )
        assert response.status_code == 200, response.text


def test_plain_http_and_unverified_clients_get_no_answer(tls_service: tuple[str, TlsFiles]) -> None:
    url, _ = tls_service
    with pytest.raises(httpx.TransportError):
        httpx.get(url.replace("https://", "http://") + "/health/live", timeout=5)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{url}/health/live", timeout=5)  # the public CAs do not know ours


def test_locust_users_verify_the_service_with_the_ca_bundle(
    tls_service: tuple[str, TlsFiles], tmp_path: Path
) -> None:
    url, files = tls_service
    stranger = ensure_certificates(tmp_path / "another-ca")
    done = subprocess.run(
        [sys.executable, "-c", LOCUST_PROBE, url, str(stranger.ca_cert)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "GAMEDAY_CA_BUNDLE": str(files.ca_cert)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    trusted, refused = done.stdout.split("\n")[:2]
    assert trusted == "200 -"
    status, error = refused.split()
    assert status == "0" and "CERTIFICATE_VERIFY_FAILED" in error, error
