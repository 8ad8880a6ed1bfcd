"""The stack's local CA and service certificate (gameday.stack.tls), the --tls wiring of
the settings, the Locust users' TLS options (scenarios.tls) and `gameday run --tls`."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography import x509

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack.service import tls_argv
from gameday.stack.tls import ensure_certificates
from scenarios.tls import client_tls


def _handshake(files_dir: Path, client: ssl.SSLContext, server_hostname: str) -> str:
    """A real TLS handshake on loopback with the generated server certificate."""
    files = ensure_certificates(files_dir)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(files.server_cert, files.server_key)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"hello")
            except (ssl.SSLError, OSError):
                pass  # the client refused us: what some tests expect

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                client.wrap_socket(raw, server_hostname=server_hostname) as tls,
            ):
                return tls.recv(5).decode()
        finally:
            thread.join(timeout=5)


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_the_server_certificate_verifies_with_the_local_ca(tmp_path: Path, hostname: str) -> None:
    files = ensure_certificates(tmp_path)
    client = ssl.create_default_context(cafile=files.ca_cert)
    assert _handshake(tmp_path, client, hostname) == "hello"


def test_a_client_without_the_local_ca_refuses_the_certificate(tmp_path: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(tmp_path, ssl.create_default_context(), "localhost")


def test_certificates_are_reused_while_valid_and_keys_are_private(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path)
    ca, server = first.ca_cert.read_bytes(), first.server_cert.read_bytes()
    second = ensure_certificates(tmp_path)
    assert (second.ca_cert.read_bytes(), second.server_cert.read_bytes()) == (ca, server)
    for key in (first.ca_key, first.server_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(server)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_a_missing_server_certificate_is_made_again_under_the_same_ca(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path)
    ca = first.ca_cert.read_bytes()
    first.server_cert.unlink()
    again = ensure_certificates(tmp_path)
    assert again.ca_cert.read_bytes() == ca and again.server_cert.exists()


def test_tls_settings_switch_the_service_url_and_uvicorn_options(tmp_path: Path) -> None:
    plain = StackSettings(state_dir=tmp_path)
    assert plain.service_url.startswith("http://") and tls_argv(plain) == []
    secure = StackSettings(state_dir=tmp_path, tls=True)
    assert secure.service_url == f"https://127.0.0.1:{secure.service_port}"
    argv = tls_argv(secure)
    assert argv == [
        "--ssl-certfile",
        str(tmp_path / "tls" / "server.pem"),
        "--ssl-keyfile",
        str(tmp_path / "tls" / "server-key.pem"),
    ]


def test_locust_users_verify_with_the_ca_bundle_when_one_is_given() -> None:
    assert client_tls({}).insecure is True  # Locust's own default
    assert client_tls({}).context_factory is None
    given = client_tls({"GAMEDAY_CA_BUNDLE": "/tmp/ca.pem"})
    assert given.insecure is False
    assert isinstance(given.context_factory, staticmethod)


def test_run_with_tls_but_no_ca_exits_2_naming_the_fix(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAMEDAY_", "SERVICE_"))}
    env["GAMEDAY_STATE_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "run", "--tls", "--duration", "5s"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "--tls: no CA bundle at" in done.stderr
    assert "gameday stack up --tls" in done.stderr
