"""PgBouncer 1.18 from Debian's packages, in transaction pooling mode, between the
service and PostgreSQL (`gameday stack up --pgbouncer`).

Clients reach it through the `pgbouncer` proxy; it reaches PostgreSQL through a second
proxy, `pgbouncer-postgres` (pgbouncer_upstream_proxy_port -> postgres_port), so an
experiment can slow or cut the pooler's side alone. Its ini and auth file are written
in its data dir on every start, from the settings:

    bouncer = Pgbouncer(StackSettings(pgbouncer=True))
    bouncer.ini_text()     # what runs: pool_mode = transaction, query_wait_timeout = 1 ...

`query_wait_timeout` (a client waiting for a server connection) is 1 s, below the
service's 2 s statement timeout: a full pool answers an error the service turns into a
503 instead of queueing for PgBouncer's default 120 s. `ignore_startup_parameters` is
left empty on purpose: a client that sends `search_path` or `statement_timeout` as a
startup parameter (session state, which transaction pooling cannot keep) is refused
loudly instead of being silently given the default schema.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import asyncpg

from gameday.errors import ComponentFailed
from gameday.stack.component import Component, Health, Launch, proxy
from gameday.stack.postgres import _let_user_traverse, _run_as
from gameday.toxiproxy import Proxy, ToxiproxyClient

PGBOUNCER = "/usr/sbin/pgbouncer"
QUERY_WAIT_TIMEOUT_S = 1  # below the service's 2 s statement timeout (default: 120 s)
# Server connections per (database, user): fewer than the clients (a service worker
# pools 5), as in production where many instances share one PgBouncer; a slow
# PostgreSQL fills it and clients queue in PgBouncer for query_wait_timeout at most.
DEFAULT_POOL_SIZE = 4
UPSTREAM_PROXY = "pgbouncer-postgres"


class Pgbouncer(Component):
    name = "pgbouncer"
    enabled_by = "pgbouncer"
    # Started after the infrastructure (PostgreSQL and Toxiproxy up): it creates its
    # upstream proxy itself, since its health check is a query through it.
    after_infra = True
    stop_signal = signal.SIGINT  # "safe shutdown" is SIGINT for PgBouncer; SIGTERM waits

    @property
    def port(self) -> int:
        return self.settings.pgbouncer_port

    def proxies(self) -> list[Proxy]:
        s = self.settings
        return [
            proxy("pgbouncer", s.pgbouncer_proxy_port, self.port),
            proxy(UPSTREAM_PROXY, s.pgbouncer_upstream_proxy_port, s.postgres_port),
        ]

    def missing(self) -> str | None:
        if not Path(PGBOUNCER).exists():
            return "pgbouncer is not installed: run `make bootstrap`"
        return None

    @property
    def ini_path(self) -> Path:
        return self.data_dir / "pgbouncer.ini"

    @property
    def auth_path(self) -> Path:
        return self.data_dir / "userlist.txt"

    def ini_text(self) -> str:
        s = self.settings
        upstream = f"host={s.host} port={s.pgbouncer_upstream_proxy_port}"
        return "\n".join(
            [
                "[databases]",
                f"{s.db_name} = {upstream} dbname={s.db_name}",
                f"postgres = {upstream} dbname=postgres",
                "",
                "[pgbouncer]",
                f"listen_addr = {s.host}",
                f"listen_port = {self.port}",
                "unix_socket_dir =",
                "pidfile =",
                "logfile =",  # stderr: the supervisor's log of this component
                "auth_type = scram-sha-256",
                f"auth_file = {self.auth_path}",
                "pool_mode = transaction",
                "max_client_conn = 1000",
                f"default_pool_size = {DEFAULT_POOL_SIZE}",
                "min_pool_size = 0",
                "reserve_pool_size = 0",
                f"query_wait_timeout = {QUERY_WAIT_TIMEOUT_S}",
                "server_connect_timeout = 2",
                "server_login_retry = 1",  # default 15 s: too slow to follow a restart
                "ignore_startup_parameters =",
                f"admin_users = {s.db_user}",
                f"stats_users = {s.db_user}",
                "",
            ]
        )

    def prepare(self) -> None:
        user = _run_as()  # PgBouncer refuses to run as root, as PostgreSQL does
        self.data_dir.mkdir(parents=True, exist_ok=True)
        s = self.settings
        # A plain password lets PgBouncer do SCRAM with both the client and the server.
        self.auth_path.write_text(f'"{s.db_user}" "{s.db_password}"\n')
        self.auth_path.chmod(0o600)
        self.ini_path.write_text(self.ini_text())
        if user:
            _let_user_traverse(self.data_dir.parent)
            for path in (self.data_dir, self.auth_path, self.ini_path):
                shutil.chown(path, user)
        self._ensure_own_proxies()

    def _ensure_own_proxies(self) -> None:
        """Its proxies exist before it starts (the supervisor makes the others' after)."""
        try:
            with ToxiproxyClient(self.settings.toxiproxy_url) as client:
                existing = client.proxies()
                client.populate([p for p in self.proxies() if p.name not in existing])
        except Exception as exc:  # Toxiproxy down: one line, what to do
            raise ComponentFailed(
                self.name,
                f"its proxies need Toxiproxy ({exc}): start it with `gameday stack up --pgbouncer`",
            ) from exc

    def launch(self) -> Launch:
        return Launch(argv=[PGBOUNCER, str(self.ini_path)], user=_run_as(), cwd=self.data_dir)

    async def check(self) -> Health:
        """A real query through PgBouncer, to PostgreSQL through the upstream proxy."""
        s = self.settings
        conn = await asyncpg.connect(
            host=s.host,
            port=self.port,
            user=s.db_user,
            password=s.db_password,
            database=s.db_name,
            timeout=2.0,
            statement_cache_size=0,
        )
        try:
            one = await conn.fetchval("select 1")
        finally:
            await conn.close()
        return Health(healthy=one == 1, version="transaction pooling")
