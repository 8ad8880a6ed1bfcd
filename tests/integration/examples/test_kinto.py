"""The worked example on a service nobody here wrote (examples/kinto): Kinto on the
stack's PostgreSQL server through its own proxy, driven by `gameday run --profile`
with the PostgreSQL-down experiment, end to end, as a subprocess.

It claims: a verdict comes back; the RTO is at least the outage (15 s) minus 1 s;
every record Kinto acknowledged is read back through Kinto's own API (or listed as
lost); no toxic is left on Kinto's proxy; and after one acknowledged record is deleted
behind Kinto's back, directly in PostgreSQL, the reconciliation reports exactly that
id lost (so it can fail).

Kinto is installed from PyPI into .gameday/kinto-venv the first time (~1 min)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from gameday.chaos.reconcile_profile import reconcile_with_profile
from gameday.rundir import RunDir
from gameday.settings import StackSettings
from gameday.target import TargetProfile, load_profile
from gameday.toxiproxy import ToxiproxyClient
from tests.integration.own_service import ROOT, gameday_cli

EXAMPLE = ROOT / "examples" / "kinto"
KINTOCTL = EXAMPLE / "kintoctl.py"
FAULT_S = 15  # experiments/postgres-down.json's fault_s
DEPENDENCY = "kinto-postgres"
PROFILE_BASE = "http://127.0.0.1:28888"  # profile.yaml base_url (checked below)


def _kintoctl(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(KINTOCTL), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(scope="module")
def profile() -> TargetProfile:
    return load_profile(EXAMPLE / "profile.yaml")


@pytest.fixture(scope="module")
def kinto(stack: StackSettings, profile: TargetProfile) -> Iterator[dict[str, str]]:
    """Kinto running on its own proxy; yields the environment `gameday run` needs."""
    started = _kintoctl("up", timeout=600)  # the first time: pip install kinto[postgresql]
    assert started.returncode == 0, started.stdout + started.stderr
    token = _kintoctl("token", timeout=30).stdout.strip()
    try:
        yield {**os.environ, "KINTO_TOKEN": token}
    finally:
        stopped = _kintoctl("down", timeout=60)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def _auth(env: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Basic {env['KINTO_TOKEN']}"}


def _summary(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "summary.json").read_text()))


def _run_dir(output: str) -> Path:
    verdict = [line for line in output.splitlines() if line.startswith("verdict ")]
    assert verdict, output
    return Path(verdict[-1].split("  report: ", 1)[1]).parent


async def _delete_record(settings: StackSettings, record_id: str) -> int:
    """Behind Kinto's back: the row goes from its `objects` table, on the real server."""
    conn = await asyncpg.connect(
        host=settings.host,
        port=settings.postgres_port,
        user="kinto",
        password="kintopw",
        database="kinto",
        timeout=10,
    )
    try:
        status = await conn.execute(
            "delete from objects where resource_name = 'record' and id = $1", record_id
        )
    finally:
        await conn.close()
    return int(status.split()[-1])


def test_the_example_profile_matches_what_kintoctl_sets_up(profile: TargetProfile) -> None:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import kintoctl
    finally:
        sys.path.remove(str(EXAMPLE))
    assert profile.base_url == kintoctl.base_url() == PROFILE_BASE
    assert profile.dependencies[DEPENDENCY].listen == f"127.0.0.1:{kintoctl.PROXY_PORT}"
    assert profile.dependencies[DEPENDENCY].upstream.endswith(f":{StackSettings().postgres_port}")
    assert "postgres" not in profile.dependencies  # never the stack's own proxy


def _heartbeat_becomes(status: int, *, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{PROFILE_BASE}/v1/__heartbeat__", timeout=2).status_code == status:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def test_kinto_reaches_postgres_only_through_its_own_proxy(
    kinto: dict[str, str], profile: TargetProfile
) -> None:
    proxies = gameday_cli("proxies", "status", "--profile", str(EXAMPLE / "profile.yaml"))
    assert proxies.returncode == 0, proxies.stdout + proxies.stderr
    assert _heartbeat_becomes(200, within_s=5)
    with ToxiproxyClient(profile.toxiproxy.url) as client:
        client.set_enabled(DEPENDENCY, False)
        try:
            assert _heartbeat_becomes(503, within_s=10), "Kinto did not notice its proxy going"
        finally:
            client.set_enabled(DEPENDENCY, True)
    assert _heartbeat_becomes(200, within_s=10), "Kinto did not recover after its proxy came back"


def test_postgres_down_end_to_end_measures_rto_and_reconciles_through_kintos_api(
    stack: StackSettings, kinto: dict[str, str], profile: TargetProfile, tmp_path: Path
) -> None:
    result = gameday_cli(
        "run",
        "--profile",
        str(EXAMPLE / "profile.yaml"),
        "--mix",
        "write_heavy",
        "--users",
        "6",
        "--spawn-rate",
        "6",
        "--duration",
        "45s",
        "--experiment",
        str(EXAMPLE / "experiments" / "postgres-down.json"),
        "--rpo-grace",
        "10s",
        "--out",
        str(tmp_path / "run"),
        timeout=170,
        env=kinto,
    )
    output = result.stdout + result.stderr
    # A verdict comes back (the report's, exit 0 or 1), never a harness error.
    assert result.returncode in (0, 1), output
    run_dir = _run_dir(result.stdout)
    summary = _summary(run_dir)
    assert summary["verdict"] in ("pass", "fail"), summary["reasons"]

    # The outage is measured: the SLOs break for the whole 15 s (every request that needs
    # the database is refused) and hold again only after it.
    (experiment,) = summary["experiments"]
    assert experiment["fault"] == "down" and experiment["target"] == DEPENDENCY, experiment
    assert experiment["rto_s"] is not None and experiment["rto_s"] >= FAULT_S - 1, experiment
    # What the experiment claims held (examples/kinto/slo.yaml): Kinto refused fast (p99
    # under 1 s in the window), came back within its RTO, ended as planned, lost nothing.
    # A 15 s outage in a ~50 s run must break the run's availability: that is the finding.
    failed = {o["name"] for o in summary["objectives"] if o["gating"] and not o["passed"]}
    held = {o["name"] for o in summary["objectives"] if o["gating"] and o["passed"]}
    assert failed == {"availability [run]"}, failed
    window = f"[fault:{experiment['name']}]"
    assert {
        f"{experiment['name']} RTO",
        f"{experiment['name']} lost writes",
        f"experiment:{experiment['name']} POST /records p99 latency {window}",
        f"experiment:{experiment['name']} GET /records/{{id}} p99 latency {window}",
        "postgres-down ended as planned",
        "lost writes [run]",
    } <= held, held

    # No toxic left on Kinto's proxy, and it is enabled again.
    with ToxiproxyClient(profile.toxiproxy.url) as client:
        proxy = client.proxies()[DEPENDENCY]
    assert proxy.enabled and proxy.toxics == [], proxy

    # RPO through Kinto's own API: every acknowledged record readable, or listed as lost.
    ledger = RunDir(run_dir).load_ledger()
    reconciliation = RunDir(run_dir).load_reconciliation()
    assert ledger and reconciliation is not None
    assert reconciliation.acknowledged == len(ledger) > 0
    assert reconciliation.documents == reconciliation.present + reconciliation.lost
    with httpx.Client(headers=_auth(kinto), timeout=10) as client:
        for entry in ledger:
            url = profile.ledger.http_get.replace("{id}", entry.id)  # type: ignore[union-attr]
            answer = client.get(url).status_code
            assert answer == 200 or entry.id in reconciliation.lost_ids, (entry.id, answer)

    # One acknowledged record deleted behind Kinto's back: exactly that id is lost.
    victim = next(e.id for e in ledger if e.id not in reconciliation.lost_ids)
    assert asyncio.run(_delete_record(stack, victim)) == 1
    again = reconcile_with_profile(run_dir, profile, grace_s=2, headers=_auth(kinto))
    assert set(again.lost_ids) - set(reconciliation.lost_ids) == {victim}, again
    assert again.lost == reconciliation.lost + 1
    # ... and the report, rebuilt from the run directory, counts it.
    report = gameday_cli("report", str(run_dir), env=kinto)
    assert report.returncode == 1, report.stdout + report.stderr
    rebuilt = _summary(run_dir)
    assert rebuilt["reconciliation"]["lost_ids"] == again.lost_ids
    assert "lost writes [run]" in {o["name"] for o in rebuilt["objectives"] if not o["passed"]}
