"""A private toxiproxy-server for the e2e tests that need no stack: started on a given
port, ready once its API answers (a protocol ping, not just an open port), stopped after."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gameday.settings import StackSettings
from gameday.stack.toxiproxy import Toxiproxy
from tests.private_server import wait_until_it_answers


@contextmanager
def private_toxiproxy_server(port: int) -> Iterator[str]:
    """Yields the server's API URL."""
    binary = Toxiproxy(StackSettings()).server_binary
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `gameday stack install` (make test does)")
    server = subprocess.Popen(
        [str(binary), "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_it_answers(
            f"{url}/version", server, what=f"private toxiproxy-server on port {port}", timeout_s=15
        )
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
