"""`gameday seed` end to end, as a subprocess, against the service under test."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from service_helpers import ServiceUnderTest

from gameday.settings import PROJECT_ROOT
from gameday.target import REFERENCE_PROFILE, HookContext, HookFailed, call_hook, load_profile


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


def test_the_reference_seed_hook_seeds_through_gameday_seed(
    service_under_test: ServiceUnderTest,
) -> None:
    """targets/reference.yaml's seed hook (service/gameday_hooks.py) runs `gameday seed`
    for the context's tenants and seed: the documents become searchable."""
    with service_under_test.client("tenant-1") as client:
        before = client.get("/v1/search", params={"size": 1}).json()["total"]
    profile = load_profile(REFERENCE_PROFILE)
    context = HookContext(
        base_url=service_under_test.url,
        tenants=["tenant-1"],
        seed=11,
        params={"docs": 300, "wait_indexed": "1m"},
    )
    assert call_hook(profile, "seed", context) is None
    with service_under_test.client("tenant-1") as client:
        after = client.get("/v1/search", params={"size": 1}).json()["total"]
    assert after - before >= 300


def test_a_failing_seed_hook_is_one_line_with_the_commands_reason() -> None:
    profile = load_profile(REFERENCE_PROFILE)
    params = {"docs": 5, "wait_indexed": "5s"}
    context = HookContext(base_url="http://127.0.0.1:9", tenants=["tenant-1"], params=params)
    with pytest.raises(HookFailed) as caught:
        call_hook(profile, "seed", context)
    message = str(caught.value)
    assert message.startswith("hooks.seed (service.gameday_hooks:seed) failed: ")
    assert "does not answer" in message and "\n" not in message
