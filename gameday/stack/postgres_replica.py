"""A streaming hot standby of the stack's PostgreSQL (`gameday stack up --pg-replica`).

Its data dir is a `pg_basebackup -R` of the primary (standby.signal and
`primary_conninfo` written for us), taken once; it streams straight from the
primary's own port, so cutting the primary's proxy cuts the service, not the
replication. Clients reach it through its own proxy, `postgres-replica`.

    replica = PostgresReplica(settings)
    took_s = asyncio.run(replica.promote(print))  # it becomes a primary for good

After a promotion the two servers have diverged: the old primary cannot rejoin
as a standby. `gameday stack down --purge` (or deleting the replica's data dir
with the stack down) gives a fresh replica on the next `up --pg-replica`.
"""

from __future__ import annotations

import asyncio
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from gameday.errors import ComponentFailed
from gameday.stack.component import Health, Launch, Report, proxy
from gameday.stack.postgres import (
    PG_BIN,
    REPLICATION_USER,
    Postgres,
    _let_user_traverse,
    _run_as,
)
from gameday.toxiproxy import Proxy

PROMOTE_TIMEOUT_S = 60.0
BASEBACKUP_TIMEOUT_S = 300.0


class PostgresReplica(Postgres):
    name = "postgres-replica"
    dependency = False  # a standby for failover, not what the service runs on
    enabled_by = "pg_replica"
    after_infra = True  # pg_basebackup needs the primary up and its replication user made

    @property
    def port(self) -> int:
        return self.settings.postgres_replica_port

    def proxies(self) -> list[Proxy]:
        return [proxy("postgres-replica", self.settings.postgres_replica_proxy_port, self.port)]

    @property
    def socket_dir(self) -> Path:
        return self.settings.run_dir / "pgsock-replica"

    def prepare(self) -> None:
        user = _run_as()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(self.socket_dir, user)
            _let_user_traverse(self.data_dir.parent)
        if (self.data_dir / "PG_VERSION").exists():
            return  # a standby from an earlier `up`, or a promoted one: start it as it is
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if user:
            shutil.chown(self.data_dir, user)
        result = subprocess.run(
            [
                str(PG_BIN / "pg_basebackup"),
                f"--host={self.settings.host}",
                f"--port={self.settings.postgres_port}",  # the primary itself, not its proxy
                f"--username={REPLICATION_USER}",
                f"--pgdata={self.data_dir}",
                "--wal-method=stream",
                "--checkpoint=fast",
                "--write-recovery-conf",  # standby.signal + primary_conninfo
                "--no-password",
            ],
            capture_output=True,
            text=True,
            env={"PGPASSWORD": self.settings.db_password, "PGCONNECT_TIMEOUT": "5"},
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            extra_groups=[] if user else None,
            cwd=self.data_dir.parent,
            timeout=BASEBACKUP_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise ComponentFailed(
                self.name, f"pg_basebackup from the primary failed: {result.stderr.strip()}"
            )

    def launch(self) -> Launch:
        launch = super().launch()
        launch.argv += ["-c", "hot_standby=on"]
        return launch

    async def check(self) -> Health:
        conn = await self._connect("postgres")
        try:
            version = await conn.fetchval("show server_version")
            standby = await conn.fetchval("select pg_is_in_recovery()")
        finally:
            await conn.close()
        role = "standby" if standby else "promoted"
        return Health(healthy=True, version=f"{str(version).split()[0]} ({role})")

    async def after_healthy(self) -> None:
        """Nothing to create: the database and roles came with the base backup."""

    async def is_standby(self) -> bool:
        conn = await self._connect("postgres")
        try:
            return bool(await conn.fetchval("select pg_is_in_recovery()"))
        finally:
            await conn.close()

    async def promote(self, report: Report) -> float:
        """Promote, then wait until a write commits; return the seconds it took."""
        started = time.monotonic()
        if not await self.is_standby():
            report(f"{self.name} is already a primary")
            return 0.0
        conn = await self._connect("postgres")
        try:
            report(f"{self.name} promoting (pg_promote)")
            # pg_promote returns once the standby has left recovery (or times out).
            promoted = await conn.fetchval(
                "select pg_promote(wait => true, wait_seconds => $1)", int(PROMOTE_TIMEOUT_S)
            )
        finally:
            await conn.close()
        if not promoted:
            raise ComponentFailed(
                self.name, f"not promoted within {PROMOTE_TIMEOUT_S:.0f}s", str(self.log_path)
            )
        report(f"{self.name} left recovery in {time.monotonic() - started:.2f}s")
        deadline = started + PROMOTE_TIMEOUT_S
        error = "no attempt"
        while time.monotonic() < deadline:
            try:
                conn = await self._connect(self.settings.db_name)
                try:
                    await conn.fetchval("select txid_current()")  # needs a writable primary
                finally:
                    await conn.close()
                took = time.monotonic() - started
                report(f"{self.name} accepts writes after {took:.2f}s")
                return took
            except Exception as exc:  # not writable yet: try again until the deadline
                error = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.1)
        raise ComponentFailed(self.name, f"promoted but no write succeeded ({error})")
