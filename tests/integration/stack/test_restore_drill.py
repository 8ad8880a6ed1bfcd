"""Backups and the restore drill (`stack up --wal-archive`, `stack backup`, `stack restore`)
on a private small stack (toxiproxy, postgres) with its own state dir and ports: the drill
destroys PostgreSQL's data dir, so it never runs on the session's stack. The service under
test uses the session stack for Redis, RabbitMQ and OpenSearch and the private stack for
PostgreSQL, like tests/integration/stack/test_pg_replica.py.

The drill's RPO is checked against a second source: during the run the test itself
samples pg_current_wal_lsn() every second (bracketed by the times the query was asked
and answered) and reads pg_stat_archiver; the writes acknowledged after the WAL moved
past the end of the last archived segment are the ones the restore cannot hold.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack.service_env import service_env
from service.namespace import drop_namespace
from tests.integration.own_service import gameday_cli
from tests.integration.service.service_helpers import (
    free_port,
    start_uvicorn,
    stop_processes,
    wait_ready,
)
from tests.integration.session_servers import straight_env

GAMEDAY = [sys.executable, "-m", "gameday.cli"]
SUBSET = "toxiproxy,postgres"
PORTS = {  # this suite's range: 27600-27999
    "GAMEDAY_TOXIPROXY_PORT": 27674,
    "GAMEDAY_POSTGRES_PORT": 27632,
    "GAMEDAY_POSTGRES_PROXY_PORT": 27642,
}
SEGMENT_BYTES = 16 * 1024 * 1024  # initdb's default WAL segment size
SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")


def gameday(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


@contextmanager
def private_archiving_stack() -> Iterator[dict[str, str]]:
    """toxiproxy and an archiving postgres on this suite's ports, in a state dir of their
    own; yields the environment that makes `gameday` commands use them."""
    # Not under pytest's basetemp (another session may reset it to 0700 and lock the
    # postgres user out).
    state = Path(tempfile.mkdtemp(prefix="gameday-restore-"))
    env = straight_env(
        {**os.environ, "GAMEDAY_STATE_DIR": str(state), **{k: str(v) for k, v in PORTS.items()}}
    )
    env.pop("GAMEDAY_WAL_ARCHIVE", None)
    try:
        up = gameday("stack", "up", "--wal-archive", "--only", SUBSET, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        gameday("stack", "down", "--purge", env=env)
        shutil.rmtree(state, ignore_errors=True)


def _settings(env: dict[str, str]) -> StackSettings:
    return StackSettings(
        state_dir=Path(env["GAMEDAY_STATE_DIR"]),
        **{k.removeprefix("GAMEDAY_").lower(): int(v) for k, v in PORTS.items()},
        wal_archive=True,
    )


async def _fetchval(sql: str) -> object:
    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=PORTS["GAMEDAY_POSTGRES_PROXY_PORT"],
        user="gameday",
        password="gameday",
        database="gameday",
        timeout=2,
    )
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def _fetch(sql: str) -> object:
    return asyncio.run(_fetchval(sql))


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _segment_end(name: str) -> int:
    """The WAL position just past the segment `name` (timeline, log, seg)."""
    match = SEGMENT.match(name)
    assert match, name
    segno = int(match[2], 16) * (0x100000000 // SEGMENT_BYTES) + int(match[3], 16)
    return (segno + 1) * SEGMENT_BYTES


@dataclass
class WalSampler:
    """(asked, answered, pg_current_wal_lsn(), pg_stat_archiver.last_archived_wal) once
    a second, on a connection of its own, until stopped (samples stop while PostgreSQL is
    gone). The position was read somewhere between `asked` and `answered`: on a loaded
    box the answer can come back late, so a bound on the switch takes the safe end."""

    samples: list[tuple[float, float, int, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                row = asyncio.run(self._sample())
                self.samples.append(row)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                pass  # destroyed or restoring: no sample this second
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    async def _sample(self) -> tuple[float, float, int, str | None]:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=PORTS["GAMEDAY_POSTGRES_PORT"],
            user="gameday",
            password="gameday",
            database="gameday",
            timeout=1,
        )
        try:
            asked = time.time()
            row = await conn.fetchrow(
                "select pg_current_wal_lsn()::text as lsn, last_archived_wal from pg_stat_archiver"
            )
            answered = time.time()
        finally:
            await conn.close()
        assert row is not None
        return asked, answered, _lsn(row["lsn"]), row["last_archived_wal"]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_restore_with_a_bad_to_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Checked before anything is stopped; the last case needs a real base backup."""
    env = {**os.environ, "GAMEDAY_STATE_DIR": str(tmp_path)}
    cases = {
        "yesterday-ish": "invalid --to 'yesterday-ish': expected an ISO 8601 time",
        "2999-01-01T00:00:00Z": "--to 2999-01-01T00:00:00Z is in the future",
    }
    for to, expected in cases.items():
        result = gameday("stack", "restore", "--to", to, env=env)
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], result.stderr


def test_backup_then_restore_to_a_time_keeps_what_was_written_before_it_only() -> None:
    with private_archiving_stack() as env:
        _fetch("create table marks (v text, at timestamptz default clock_timestamp())")
        backup = gameday("stack", "backup", env=env)
        assert backup.returncode == 0, backup.stderr
        assert re.search(r"base backup gameday-\S+: WAL \S+ to \S+, finished \S+Z", backup.stdout)
        assert "100%" in backup.stdout  # the progress was shown

        early = gameday("stack", "restore", "--to", "2000-01-01T00:00:00Z", env=env)
        assert early.returncode == 2 and "before the first base backup" in early.stderr
        assert len(early.stderr.strip().splitlines()) == 1

        _fetch("insert into marks (v) values ('kept')")
        cut = float(str(_fetch("select extract(epoch from clock_timestamp())")))
        wait_until_later = cut + 1.1
        while time.time() < wait_until_later:  # a recovery target strictly between the two
            time.sleep(0.05)
        _fetch("insert into marks (v) values ('after')")
        _fetch("select pg_switch_wal()")  # both inserts archived: only --to can drop one

        to = datetime.fromtimestamp(cut + 0.5).astimezone().isoformat()
        restored = gameday("stack", "restore", "--to", to, env=env)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "writable at" in restored.stdout
        assert _fetch("select string_agg(v, ',') from marks") == "kept"
        assert _fetch("select pg_is_in_recovery()") is False
        assert _fetch("show restore_command") == ""  # the recovery settings were dropped

        again = gameday("stack", "restore", env=env)  # all of the archive: new timeline
        assert again.returncode == 0, again.stdout + again.stderr
        assert _fetch("select string_agg(v, ',' order by at) from marks") == "kept"


def test_the_restore_drill_restores_a_working_service_and_its_rpo_agrees_with_the_wal(
    session_servers: StackSettings, tmp_path: Path
) -> None:
    """experiments/postgres-restore-drill.json under write-heavy load, against a service
    whose PostgreSQL is a fresh private archiving primary."""
    namespace = f"t{uuid.uuid4().hex[:10]}"
    with private_archiving_stack() as harness_env:
        private = _settings(harness_env)
        env = {
            **os.environ,
            **service_env(session_servers),
            "SERVICE_POSTGRES_DSN": private.postgres_dsn,
            "SERVICE_REDIS_PREFIX": f"{namespace}:",
            "SERVICE_AMQP_QUEUE": f"{namespace}.index",
            "SERVICE_AMQP_EXCHANGE": namespace,
            "SERVICE_OUTBOX_POLL_INTERVAL_S": "0.2",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        }
        port = free_port()
        proc = start_uvicorn(port, env, tmp_path / "service.log")
        procs = [proc]
        out = tmp_path / "run"
        sampler = WalSampler()
        thread = threading.Thread(target=sampler.run, daemon=True)
        try:
            wait_ready(f"http://127.0.0.1:{port}", [proc], tmp_path)
            with open(tmp_path / "indexer.log", "wb") as log:
                indexer = [sys.executable, "-m", "service.indexer"]
                procs.append(
                    subprocess.Popen(
                        indexer, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
                    )
                )
            thread.start()
            result = gameday_cli(
                "run",
                "--scenario",
                "write_heavy",
                "--rate",
                "10",
                "--target",
                f"http://127.0.0.1:{port}",
                "--experiment",
                str(PROJECT_ROOT / "experiments" / "postgres-restore-drill.json"),
                "--var",
                "backup_to_loss_s=15",
                "--var",
                "noticed_after_s=3",
                "--rpo-grace",
                "20s",
                "--out",
                str(out),
                env=harness_env,
                timeout=200,
            )
            # the service and the indexer followed the restore, without a restart
            assert [p.poll() for p in procs] == [None, None]
            url = f"http://127.0.0.1:{port}"
            assert httpx.get(f"{url}/health/ready", timeout=5).status_code == 200
        finally:
            sampler.stop.set()
            thread.join(timeout=5)
            stop_processes(*procs)
            named = {
                **env,
                "SERVICE_POSTGRES_SCHEMA": namespace,
                "SERVICE_OPENSEARCH_ALIAS": namespace,
            }
            drop_namespace(session_servers, named)
        archive = sorted(
            p.name
            for p in (private.data_dir / "wal-archive").iterdir()
            if SEGMENT.match(p.name) and p.name.startswith("00000001")
        )
        data_dirs = sorted(p.name for p in private.data_dir.iterdir())

    assert result.returncode in (0, 1), result.stdout + result.stderr
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    timeline = [e for e in events if e["type"] != "stage_changed"]
    outcome = json.loads((out / "experiment.json").read_text())
    assert outcome["steady_state_before"] is True, (outcome, timeline)
    assert [e["type"] for e in events if e["type"] in ("backup_taken", "data_restored")] == [
        "backup_taken",
        "data_restored",
    ], timeline
    assert outcome["verdict"] == "pass", (outcome, timeline)
    summary = json.loads((out / "summary.json").read_text())
    # The run's verdict is FAIL by design: every PostgreSQL request fails until the
    # restored server is tried again (availability, error rate), and the writes after the
    # last archived segment are gone (the run's zero-loss rule). Nothing else may fail.
    breached = [o for o in summary["objectives"] if o["passed"] is False]
    assert all(o["unit"] == "%" or o["name"] == "lost writes [run]" for o in breached), breached
    [drill_window] = [e for e in summary["experiments"] if e.get("restore")]
    drill = drill_window["restore"]
    assert drill_window["name"] == "postgres-data-destroyed"

    # RTO: writes came back after the restore, through the same service process.
    assert drill["rto_s"] is not None and drill["rto_s"] > 0, drill
    assert drill["restored_after_s"] <= drill["rto_s"] + 1, drill
    assert drill["rto_meets_design"] is True
    # both judged against slo.yaml's tight objectives for this window (and the 1 h/15 min)
    judged = {
        o["metric"]: o
        for o in summary["objectives"]
        if o["scope"] == "experiment:postgres-data-destroyed"
    }
    assert judged["rto_s"]["measured"] == drill["rto_s"], judged
    assert judged["rto_s"]["target"] == 45.0 and judged["rto_s"]["passed"] is True, judged
    assert judged["rpo_s"]["measured"] == drill["rpo_s"] and judged["rpo_s"]["target"] == 15.0

    # RPO, second source: the WAL position sampled each second against the last segment
    # the archiver had archived before the destruction.
    destroyed = next(e for e in events if e["type"] == "fault_injected")
    destroyed_epoch = float(destroyed["epoch"])
    before = [s for s in sampler.samples if s[1] < destroyed_epoch]
    assert len(before) >= 15, sampler.samples  # sampled through the run up to the loss
    last_archived = before[-1][3]
    assert last_archived is not None and last_archived in archive, (last_archived, archive)
    assert destroyed["attributes"]["last_archived_wal"] == last_archived
    end = _segment_end(last_archived)
    # The switch came after the position was read below the end (so after that query was
    # asked) and before it was read past it (so before that query was answered).
    below = [asked for asked, _, lsn, _ in before if lsn < end]
    past = [answered for _, answered, lsn, _ in before if lsn >= end]
    switched_after, switched_before = max(below), min(past, default=destroyed_epoch)
    assert switched_before - switched_after <= 1.5, (switched_after, switched_before)

    ledger = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    last_write = {e["id"]: (_epoch(e["acked_at"]), e["op"]) for e in ledger}  # as judged
    first_write = {}
    for e in ledger:
        first_write.setdefault(e["id"], _epoch(e["acked_at"]))
    lost_ids = {w["id"] for w in drill["lost"]}
    # Lost: what the restore cannot hold, the documents whose last write came after the
    # switch; a delete only when the document existed before it (one created and deleted
    # after it is absent either way).
    expected_lost = {
        i
        for i, (at, op) in last_write.items()
        if switched_before + 1 < at < destroyed_epoch
        and (op != "delete" or first_write[i] < switched_after - 1)
    }
    expected_kept = {i for i, (at, _) in last_write.items() if at < switched_after - 1}
    assert expected_lost <= lost_ids, sorted(expected_lost - lost_ids)
    assert not (expected_kept & lost_ids), sorted(expected_kept & lost_ids)
    # RPO: the newest restored write is the newest the WAL says was archived, so no older
    # than the newest write acknowledged before the switch and no newer than the switch.
    # (Not "within 1 s of the switch": on a loaded box the writes can pause for longer than
    # that just before it, and the newest restored write is then older.)
    newest_restored = destroyed_epoch - drill["rpo_s"]
    acks = sorted(_epoch(e["acked_at"]) for e in ledger)
    newest_surely_kept = max(at for at in acks if at < switched_after - 1)
    around = [round(at, 3) for at in acks if switched_after - 5 < at < switched_before + 5]
    assert newest_surely_kept <= newest_restored <= switched_before + 1, (
        drill,
        switched_after,
        switched_before,
        around,
    )
    assert drill["rpo_meets_design"] is True
    # A finding, shown apart: a document whose last write came after the restore may be
    # missing from the search index (it holds a version from the lost WAL, so the later
    # write with the same version is dropped as stale); PostgreSQL holds every such write.
    reconciliation = json.loads((out / "reconciliation.json").read_text())
    assert len(drill["lost_after_restore"]) <= reconciliation["lost_in_search"], reconciliation
    assert data_dirs == ["backups", "postgres", "wal-archive"]  # nothing stray
