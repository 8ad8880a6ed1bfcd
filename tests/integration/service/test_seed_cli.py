"""`gameday seed` end to end, as a subprocess, against the service under test."""

from __future__ import annotations

import os
import subprocess
import sys

from service_helpers import ServiceUnderTest

from gameday.settings import PROJECT_ROOT


def test_seed_loads_the_corpus_through_the_bulk_api_and_reports_its_rate(
    service_under_test: ServiceUnderTest,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVICE_", "GAMEDAY_"))}
    done = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "seed", "--docs", "1200", "--tenants", "2",
         "--seed", "3", "--url", service_under_test.url, "--wait-indexed", "1m"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "seeded 1200 documents for 2 tenants" in done.stderr
    assert "docs/s accepted" in done.stderr and "docs/s end to end" in done.stderr
    totals = []
    for tenant in ("tenant-1", "tenant-2"):
        with service_under_test.client(tenant) as client:
            totals.append(client.get("/v1/search", params={"size": 1}).json()["total"])
    assert sum(totals) >= 1200 and all(t > 0 for t in totals)


def test_seed_against_a_service_that_is_not_there_exits_2(
    service_under_test: ServiceUnderTest,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVICE_", "GAMEDAY_"))}
    done = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "seed", "--docs", "10", "--url",
         "http://127.0.0.1:9", "--wait-indexed", "5s"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "does not answer" in done.stderr
