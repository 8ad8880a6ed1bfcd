"""Base backups and restores of the stack's PostgreSQL (`stack up --wal-archive`).

PostgreSQL archives each finished WAL segment into `<state>/data/wal-archive` (a plain
`archive_command`, gameday.stack.postgres), at least every `ARCHIVE_TIMEOUT_S` while it
is written to. A base backup is a `pg_basebackup` of the running primary in plain
format, with the WAL it needs streamed into it, under `<state>/data/backups/<label>/`,
its facts in `<label>.json`. A restore replaces the data dir with a copy of the latest
base backup (the latest one finished before `to`, when given) and replays the archived
WAL to its end (or to `to`), then the server leaves recovery on a new timeline.

    backup = take_backup(settings, print)      # Backup(label=..., start_lsn=..., ...)
    restored = restore(settings, print)        # the end of the archive
    restored = restore(settings, print, to=parse_restore_target("2026-12-01T10:30:00Z", ...))

pg_basebackup and a `cp` archive_command rather than pgBackRest: both come with the
PostgreSQL packages the stack already runs as the same local user, with nothing else to
configure (pgBackRest wants a stanza, a repository, its own config, log and lock paths
owned by that user), and one archive of plain segment files is all a single local
primary needs.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import pwd
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from gameday.errors import ConfigError, StackError
from gameday.settings import StackSettings
from gameday.stack import process
from gameday.stack.component import Report
from gameday.stack.postgres import (
    PG_BIN,
    REPLICATION_USER,
    Postgres,
    _let_user_traverse,
    _run_as,
    wal_archive_dir,
)
from gameday.stack.supervisor import down, recorded_settings, up

BASEBACKUP_TIMEOUT_S = 300.0
RESTORE_TIMEOUT_S = 180.0
_RECOVERY_SETTINGS = ("restore_command", "recovery_target_time", "recovery_target_action")
NOT_RUNNING = "PostgreSQL is not running: start it with `gameday stack up --wal-archive`"
_SEGMENT = re.compile(r"^[0-9A-F]{24}$")
_LSN_LINE = re.compile(r"write-ahead log (start|end) point: ([0-9A-F]+/[0-9A-F]+)")


@dataclass(frozen=True)
class Backup:
    """One base backup: where it is, and the WAL range and wall times it covers."""

    label: str
    path: str
    start_lsn: str
    end_lsn: str
    started_at: float  # epoch seconds
    finished_at: float  # a restore target must be at or after this

    @property
    def finished(self) -> str:
        return _iso(self.finished_at)


@dataclass(frozen=True)
class Restored:
    backup: Backup
    to: float | None  # the recovery target (epoch s); None: the end of the archive
    last_archived_segment: str | None  # the newest segment the replay could read
    lsn: str  # the restored server's WAL position once it accepts writes
    took_s: float  # stop to the first write on the restored server


def backups_dir(settings: StackSettings) -> Path:
    return settings.data_dir / "backups"


def list_backups(settings: StackSettings) -> list[Backup]:
    """The base backups on disk, oldest first (one whose copy is gone is skipped)."""
    found = []
    for record in sorted(backups_dir(settings).glob("*.json")):
        backup = Backup(**json.loads(record.read_text()))
        if Path(backup.path).is_dir():
            found.append(backup)
    return sorted(found, key=lambda b: b.finished_at)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _require_archive(settings: StackSettings) -> None:
    if not settings.wal_archive:
        raise StackError(
            "the stack's PostgreSQL does not archive its WAL: start it with "
            "`gameday stack up --wal-archive`"
        )


def _running_postgres(settings: StackSettings) -> bool:
    tracked = process.read_tracked(settings.run_dir, Postgres.name)
    return tracked is not None and tracked.is_alive()


def parse_restore_target(text: str, backups: list[Backup], *, now: float | None = None) -> float:
    """`--to` as epoch seconds: an ISO 8601 time (a time without an offset is UTC), not
    in the future and not before the first base backup finished."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise ConfigError(
            f"invalid --to {text!r}: expected an ISO 8601 time such as 2026-12-01T10:30:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    target = moment.timestamp()
    now = time.time() if now is None else now
    if target > now:
        raise ConfigError(
            f"--to {_iso(target)} is in the future (now {_iso(now)}): give a past time, "
            "or leave --to out to replay all the archived WAL"
        )
    if not backups:
        raise StackError("there is no base backup to restore: take one with `gameday stack backup`")
    if target < backups[0].finished_at:
        raise ConfigError(
            f"--to {_iso(target)} is before the first base backup ({backups[0].label}, "
            f"finished {backups[0].finished}): give a later time"
        )
    return target


def take_backup(settings: StackSettings, report: Report) -> Backup:
    """A base backup of the running primary, progress reported line by line."""
    settings = recorded_settings(settings)
    _require_archive(settings)
    if not _running_postgres(settings):
        raise StackError(NOT_RUNNING)
    user = _run_as()
    root = backups_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    started_at = time.time()
    label = "gameday-" + datetime.fromtimestamp(started_at, UTC).strftime("%Y%m%dT%H%M%S.%f")[:-3]
    target = root / label
    target.mkdir(mode=0o700)
    if user:
        shutil.chown(target, user)
        _let_user_traverse(root)
    argv = [
        str(PG_BIN / "pg_basebackup"),
        f"--host={settings.host}",
        f"--port={settings.postgres_port}",  # the server itself: a backup is no client fault
        f"--username={REPLICATION_USER}",
        f"--pgdata={target}",
        f"--label={label}",
        "--wal-method=stream",
        "--checkpoint=fast",
        "--progress",
        "--verbose",
        "--no-password",
    ]
    lsns: dict[str, str] = {}
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={"PGPASSWORD": settings.db_password, "PGCONNECT_TIMEOUT": "5"},
        user=user,
        group=pwd.getpwnam(user).pw_gid if user else None,
        extra_groups=[] if user else None,
        cwd=root,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    buffer = b""
    watchdog = threading.Timer(BASEBACKUP_TIMEOUT_S, proc.kill)  # a hung backup ends
    watchdog.start()
    while chunk := os.read(proc.stderr.fileno(), 4096):  # progress lines end in \r, the rest in \n
        buffer += chunk
        *done, buffer = re.split(rb"[\r\n]", buffer)
        for raw in done:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            lines.append(line)
            if match := _LSN_LINE.search(line):
                lsns[match.group(1)] = match.group(2)
            report(f"pg_basebackup: {line.removeprefix('pg_basebackup: ')}")
    watchdog.cancel()
    if proc.wait() != 0 or set(lsns) != {"start", "end"}:
        shutil.rmtree(target, ignore_errors=True)
        raise StackError(f"pg_basebackup failed: {' / '.join(lines[-3:]) or 'no output'}")
    backup = Backup(
        label=label,
        path=str(target),
        start_lsn=lsns["start"],
        end_lsn=lsns["end"],
        started_at=started_at,
        finished_at=float(math.ceil(time.time())),  # whole seconds, as it is printed
    )
    (root / f"{label}.json").write_text(json.dumps(asdict(backup), indent=2) + "\n")
    return backup


@dataclass(frozen=True)
class Destroyed:
    pid: int
    last_archived_wal: str | None  # pg_stat_archiver just before the kill
    last_archived_at: float | None  # epoch s
    lsn: str  # pg_current_wal_lsn() just before the kill
    killed_at: float  # epoch s: the moment of the SIGKILL, when clients start failing


def destroy_data(settings: StackSettings) -> Destroyed:
    """The restore drill's fault: SIGKILL PostgreSQL's process group, then delete its
    data dir (the WAL not archived yet goes with it). The archive and the base
    backups are left alone."""
    settings = recorded_settings(settings)
    tracked = process.read_tracked(settings.run_dir, Postgres.name)
    if tracked is None or not tracked.is_alive():
        raise StackError(NOT_RUNNING)
    postgres = Postgres(settings)
    wal, at, lsn = asyncio.run(_archiver(postgres))
    killed_at = time.time()
    process.stop(tracked, sig=signal.SIGKILL, timeout_s=settings.stop_timeout_s)
    process.forget(settings.run_dir, Postgres.name)
    shutil.rmtree(postgres.data_dir)
    return Destroyed(
        pid=tracked.pid, last_archived_wal=wal, last_archived_at=at, lsn=lsn, killed_at=killed_at
    )


async def _archiver(postgres: Postgres) -> tuple[str | None, float | None, str]:
    conn = await postgres._connect("postgres")
    try:
        row = await conn.fetchrow(
            "select last_archived_wal, extract(epoch from last_archived_time)::float8 as at,"
            " pg_current_wal_lsn()::text as lsn from pg_stat_archiver"
        )
    finally:
        await conn.close()
    assert row is not None
    return row["last_archived_wal"], row["at"], str(row["lsn"])


def _last_segment(archive: Path) -> str | None:
    segments = sorted(p.name for p in archive.iterdir() if _SEGMENT.match(p.name))
    return segments[-1] if segments else None


def restore(settings: StackSettings, report: Report, *, to: float | None = None) -> Restored:
    """Stop PostgreSQL, put the latest base backup (finished at or before `to`) in its
    data dir, replay the archive to its end (or to `to`), start it and wait until it
    accepts a write. The data dir it replaces is moved to `postgres.replaced`."""
    settings = recorded_settings(settings)
    _require_archive(settings)
    backups = [b for b in list_backups(settings) if to is None or b.finished_at <= to]
    if not backups:
        raise StackError("there is no base backup to restore: take one with `gameday stack backup`")
    backup = backups[-1]
    started = time.monotonic()
    down(settings, report, only=[Postgres.name])  # a no-op when it is gone already
    postgres = Postgres(settings)
    data = postgres.data_dir
    if data.exists():
        replaced = data.with_name(f"{data.name}.replaced")
        shutil.rmtree(replaced, ignore_errors=True)
        data.rename(replaced)
        report(f"moved the current data dir to {replaced}")
    report(f"restoring base backup {backup.label} (finished {backup.finished})")
    shutil.copytree(backup.path, data, symlinks=True)
    archive = wal_archive_dir(settings)
    last = _last_segment(archive)
    report(
        f"replaying archived WAL up to segment {last or '(none)'}"
        + (f", stopping at {_iso(to)}" if to is not None else "")
    )
    with open(data / "postgresql.auto.conf", "a") as conf:
        conf.write(f"restore_command = 'cp {archive}/%f \"%p\"'\n")
        if to is not None:
            moment = datetime.fromtimestamp(to, UTC).isoformat(sep=" ", timespec="microseconds")
            conf.write(f"recovery_target_time = '{moment}'\n")
            conf.write("recovery_target_action = 'promote'\n")
    (data / "recovery.signal").touch()
    user = _run_as()
    if user:
        _chown_tree(data, user)
    data.chmod(0o700)
    up(settings, report, only=[Postgres.name])
    lsn = asyncio.run(_wait_writable(postgres, report, deadline=started + RESTORE_TIMEOUT_S))
    took_s = time.monotonic() - started
    report(f"postgres restored and writable in {took_s:.1f}s at {lsn}")
    return Restored(
        backup=backup, to=to, last_archived_segment=last, lsn=lsn, took_s=round(took_s, 3)
    )


def _chown_tree(root: Path, user: str) -> None:
    shutil.chown(root, user, user)
    for path in root.rglob("*"):
        shutil.chown(path, user, user)


async def _wait_writable(postgres: Postgres, report: Report, *, deadline: float) -> str:
    """Wait until recovery has ended and a write commits; drop the recovery settings."""
    error = "no attempt"
    while time.monotonic() < deadline:
        try:
            conn = await postgres._connect(postgres.settings.db_name)
            try:
                if await conn.fetchval("select pg_is_in_recovery()"):
                    error = "still replaying WAL"
                else:
                    await conn.fetchval("select txid_current()")  # a writable primary
                    for setting in _RECOVERY_SETTINGS:
                        await conn.execute(f"alter system reset {setting}")
                    await conn.execute("select pg_reload_conf()")
                    return str(await conn.fetchval("select pg_current_wal_lsn()::text"))
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(0.2)
    raise StackError(f"the restored PostgreSQL accepted no write in time ({error})")
