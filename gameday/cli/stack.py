"""`gameday stack install|up|status|down|promote-replica|backup|restore`: the local stack of
real servers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Column, Table

from gameday.errors import ConfigError
from gameday.settings import StackSettings
from gameday.stack import install, supervisor

app = typer.Typer(help="Start, check and stop the local stack (real servers behind Toxiproxy).")
console = Console(highlight=False, soft_wrap=True)

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar="GAMEDAY_STATE_DIR", help="where data, logs, pids live"),
]


def load_settings(**flags: Any) -> StackSettings:
    """Flags win over env vars, which win over gameday.toml / [tool.gameday]."""
    try:
        return StackSettings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {field}: {first['msg']}") from exc


def _say(line: str) -> None:
    console.print(line)


@app.command("install")
def install_cmd(state_dir: StateDir = None) -> None:
    """Install what is missing: Debian packages, Toxiproxy, OpenSearch jars."""
    settings = load_settings(state_dir=state_dir)
    took = install.install_all(settings, _say)
    console.print(f"install done in {took:.1f}s (tools in {settings.tools_dir})")


@app.command("up")
def up_cmd(
    search_nodes: Annotated[
        int | None,
        typer.Option("--search-nodes", envvar="GAMEDAY_SEARCH_NODES", help="OpenSearch nodes"),
    ] = None,
    rabbitmq_nodes: Annotated[
        int | None,
        typer.Option(
            "--rabbitmq-nodes",
            envvar="GAMEDAY_RABBITMQ_NODES",
            help="RabbitMQ brokers (1, or 3 for a cluster with quorum queues)",
        ),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option("--only", help="comma-separated subset of components to start"),
    ] = None,
    pg_replica: Annotated[
        bool | None,
        typer.Option(
            "--pg-replica/--no-pg-replica",
            envvar="GAMEDAY_PG_REPLICA",
            help="also start a streaming hot-standby PostgreSQL replica",
            show_default=False,
        ),
    ] = None,
    tls: Annotated[
        bool | None,
        typer.Option(
            "--tls",
            envvar="GAMEDAY_TLS",
            help="the service serves HTTPS with a certificate of a local CA (in <state>/tls)",
            show_default=False,
        ),
    ] = None,
    redis_sentinel: Annotated[
        bool | None,
        typer.Option(
            "--redis-sentinel",
            envvar="GAMEDAY_REDIS_SENTINEL",
            help="Redis as a primary, a replica and three Sentinels; clients find the primary"
            " through Sentinel",
            show_default=False,
        ),
    ] = None,
    pgbouncer: Annotated[
        bool | None,
        typer.Option(
            "--pgbouncer",
            envvar="GAMEDAY_PGBOUNCER",
            help="PgBouncer (transaction pooling) between the service and PostgreSQL",
            show_default=False,
        ),
    ] = None,
    wal_archive: Annotated[
        bool | None,
        typer.Option(
            "--wal-archive",
            envvar="GAMEDAY_WAL_ARCHIVE",
            help="PostgreSQL archives its WAL, for `gameday stack backup` and `restore`",
            show_default=False,
        ),
    ] = None,
    state_dir: StateDir = None,
) -> None:
    """Start every component that is not running (idempotent)."""
    subset = _parse_only(only)
    if subset is not None and "postgres-replica" in subset:
        pg_replica = True
    settings = load_settings(
        state_dir=state_dir,
        search_nodes=search_nodes,
        rabbitmq_nodes=rabbitmq_nodes,
        pg_replica=pg_replica,
        tls=tls,
        redis_sentinel=redis_sentinel,
        pgbouncer=pgbouncer,
        wal_archive=wal_archive,
    )
    took = supervisor.up(settings, _say, only=subset)
    console.print(f"stack up in {took:.1f}s (state in {settings.state_dir})")
    if settings.tls:
        console.print(
            f"service on {settings.service_url} (CA {settings.tls_dir / 'ca.pem'}); "
            "export GAMEDAY_TLS=1 so that the other commands use HTTPS too"
        )


def _parse_only(only: str | None) -> list[str] | None:
    if only is None:
        return None
    from gameday.stack.registry import NAMES

    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ConfigError(
            f"unknown component {unknown[0]!r} in --only; expected some of {', '.join(NAMES)}"
        )
    return names


@app.command("status")
def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help='print {"components": [...]}')] = False,
    state_dir: StateDir = None,
) -> None:
    """Health of every component; exit 0 when all are healthy, 1 otherwise."""
    settings = load_settings(state_dir=state_dir)
    statuses = supervisor.status(settings)
    if as_json:
        typer.echo(supervisor.status_json(statuses))
    else:
        table = Table(
            Column("component", no_wrap=True),  # "postgres-replica" on one line
            *("healthy", "pid", "port", "proxy", "version", "detail"),
        )
        for s in statuses:
            table.add_row(
                s.name,
                "[green]yes[/]" if s.healthy else "[red]no[/]",
                str(s.pid or "-"),
                str(s.port),
                str(s.proxy_port or "-"),
                s.version or "-",
                s.error or s.role or "",
            )
        console.print(table)
    raise typer.Exit(0 if statuses and all(s.healthy for s in statuses) else 1)


@app.command("promote-replica")
def promote_replica_cmd(state_dir: StateDir = None) -> None:
    """Promote the streaming replica to a primary and wait until it accepts writes."""
    settings = load_settings(state_dir=state_dir)
    took = supervisor.promote_replica(settings, _say)
    console.print(f"replica promoted in {took:.2f}s (writable)")


@app.command("backup")
def backup_cmd(state_dir: StateDir = None) -> None:
    """Take a base backup of PostgreSQL (needs `stack up --wal-archive`)."""
    from gameday.stack import take_backup

    settings = load_settings(state_dir=state_dir)
    backup = take_backup(settings, _say)
    console.print(
        f"base backup {backup.label}: WAL {backup.start_lsn} to {backup.end_lsn}, "
        f"finished {backup.finished} ({backup.path})"
    )


@app.command("restore")
def restore_cmd(
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="replay the archived WAL up to this ISO 8601 time (UTC without an offset);"
            " default: all of it",
        ),
    ] = None,
    state_dir: StateDir = None,
) -> None:
    """Stop PostgreSQL, restore the latest base backup (before --to), replay the archived
    WAL to its end (or to --to), start it and wait until it accepts writes."""
    from gameday.stack import list_backups, parse_restore_target, recorded_settings, restore

    settings = load_settings(state_dir=state_dir)
    target = None
    if to is not None:  # checked before anything is stopped
        target = parse_restore_target(to, list_backups(recorded_settings(settings)))
    restored = restore(settings, _say, to=target)
    console.print(
        f"restored {restored.backup.label} + archived WAL up to "
        f"{restored.last_archived_segment or '(none)'}: writable at {restored.lsn} "
        f"after {restored.took_s:.1f}s"
    )


@app.command("down")
def down_cmd(
    purge: Annotated[bool, typer.Option("--purge", help="also delete data and logs")] = False,
    state_dir: StateDir = None,
) -> None:
    """Stop every process `up` started (by pid) and wait until each is gone."""
    settings = load_settings(state_dir=state_dir)
    supervisor.down(settings, _say, purge=purge)
    console.print("stack down")
