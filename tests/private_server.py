"""Waiting for a private server a test started: ready once `url` answers 200 (a request
of its own protocol, not just an open port); a server that exits or stays silent past
`timeout_s` fails the test naming `what`."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest


def wait_until_it_answers(
    url: str, process: subprocess.Popen[bytes], *, what: str, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not start")
        time.sleep(0.1)
