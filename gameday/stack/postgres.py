"""PostgreSQL 15 from Debian's packages, in its own data dir under the state dir."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import asyncpg

from gameday.errors import ComponentFailed
from gameday.settings import StackSettings
from gameday.stack.component import Component, Health, Launch, proxy
from gameday.toxiproxy import Proxy

PG_BIN = Path("/usr/lib/postgresql/15/bin")
REPLICATION_USER = "replicator"  # pg_basebackup and the standby's walreceiver log in as it
# `stack up --wal-archive`: a segment is switched and archived at least this often while
# anything is written, which bounds the data a lost data dir can take with it (RPO).
ARCHIVE_TIMEOUT_S = 10


def wal_archive_dir(settings: StackSettings) -> Path:
    """Where PostgreSQL archives its WAL segments (`stack up --wal-archive`)."""
    return settings.data_dir / "wal-archive"


def archive_command(archive: Path) -> str:
    """Copy a finished segment into the archive under a temporary name, then rename it:
    a restore never reads a half-copied segment, and an existing one is never overwritten
    (PostgreSQL retries a failing archive_command and keeps the segment meanwhile)."""
    target = shlex.quote(str(archive)) + "/%f"
    return f"test ! -f {target} && cp %p {target}.tmp && mv {target}.tmp {target}"


def _run_as() -> str | None:
    # PostgreSQL refuses to run as root; Debian's package brings a postgres user.
    return "postgres" if os.geteuid() == 0 else None


def _let_user_traverse(directory: Path) -> None:
    """Give others the search (x) bit on each ancestor that lacks it, so the
    postgres user can reach a state dir under e.g. a 0700 `mktemp -d` clone.
    Only traversal is granted: nobody else can list those directories."""
    for path in [directory, *directory.parents]:
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(path, mode | stat.S_IXOTH)


class Postgres(Component):
    name = "postgres"
    dependency = True
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for clients

    @property
    def port(self) -> int:
        return self.settings.postgres_port

    def proxies(self) -> list[Proxy]:
        return [proxy("postgres", self.settings.postgres_proxy_port, self.port)]

    @property
    def socket_dir(self) -> Path:
        return self.settings.run_dir / "pgsock"

    def missing(self) -> str | None:
        if not (PG_BIN / "postgres").exists():
            return "PostgreSQL 15 server is not installed: run `make bootstrap`"
        return None

    def prepare(self) -> None:
        user = _run_as()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(self.socket_dir, user)
            _let_user_traverse(self.data_dir.parent)
        if self._archives:
            archive = wal_archive_dir(self.settings)
            archive.mkdir(parents=True, exist_ok=True)
            if user:
                shutil.chown(archive, user)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.data_dir.parent / "pgpass.tmp"  # reachable by the postgres user
        pwfile.write_text(self.settings.db_password + "\n")
        if user:
            shutil.chown(self.data_dir, user)
            shutil.chown(pwfile, user)
        try:
            result = subprocess.run(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data_dir),
                    f"--username={self.settings.db_user}",
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                ],
                capture_output=True,
                text=True,
                user=user,
                group=pwd.getpwnam(user).pw_gid if user else None,
                extra_groups=[] if user else None,
                cwd=self.data_dir,
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise ComponentFailed(self.name, f"initdb failed: {result.stderr.strip()}")
        with open(self.data_dir / "pg_hba.conf", "a") as hba:
            # Streaming replicas (the failover experiments) connect over loopback.
            hba.write("host replication all 127.0.0.1/32 scram-sha-256\n")

    @property
    def _archives(self) -> bool:
        # The primary only: a standby archives nothing with archive_mode=on anyway.
        return self.settings.wal_archive and self.name == Postgres.name

    def _archive_args(self) -> list[str]:
        if not self._archives:
            return []
        command = archive_command(wal_archive_dir(self.settings))
        return [
            *("-c", "archive_mode=on"),
            *("-c", f"archive_command={command}"),
            *("-c", f"archive_timeout={ARCHIVE_TIMEOUT_S}s"),
        ]

    def launch(self) -> Launch:
        return Launch(
            argv=[
                str(PG_BIN / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                f"listen_addresses={self.settings.host}",
                "-c",
                f"unix_socket_directories={self.socket_dir}",
                "-c",
                "max_connections=200",
                "-c",
                "logging_collector=off",
                *self._archive_args(),
            ],
            user=_run_as(),
            cwd=self.data_dir,
        )

    async def _connect(self, database: str) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.settings.host,
            port=self.port,
            user=self.settings.db_user,
            password=self.settings.db_password,
            database=database,
            timeout=2.0,
        )

    async def check(self) -> Health:
        conn = await self._connect("postgres")
        try:
            one = await conn.fetchval("select 1")
            version = await conn.fetchval("show server_version")
        finally:
            await conn.close()
        return Health(healthy=one == 1, version=str(version).split()[0])

    async def after_healthy(self) -> None:
        conn = await self._connect("postgres")
        try:
            exists = await conn.fetchval(
                "select 1 from pg_database where datname = $1", self.settings.db_name
            )
            if not exists:
                # Identifiers can't be bound as parameters; the name comes from settings
                # and is quoted as an identifier.
                name = self.settings.db_name.replace('"', '""')
                await conn.execute(f'create database "{name}"')
            if not await conn.fetchval("select pg_is_in_recovery()"):
                await _ensure_replication_user(conn, self.settings.db_password)
        finally:
            await conn.close()


async def _ensure_replication_user(conn: asyncpg.Connection, password: str) -> None:
    """A login with only the REPLICATION privilege, for the streaming replica."""
    exists = await conn.fetchval("select 1 from pg_roles where rolname = $1", REPLICATION_USER)
    if not exists:
        # CREATE ROLE takes no bind parameters; the password is quoted as a literal.
        literal = "'" + password.replace("'", "''") + "'"
        await conn.execute(f"create role {REPLICATION_USER} replication login password {literal}")
