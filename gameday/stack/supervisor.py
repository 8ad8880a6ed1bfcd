"""`up`, `status`, `down` and `promote_replica` over the stack's components.

Facts that must survive between commands (which components `up` started, with
how many search nodes, with or without the PostgreSQL replica) live in
`<state>/run/stack.json`, so `status` and `down` act on what is running,
whatever flags they are given. A later `up` keeps a replica that is running.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from dataclasses import asdict, dataclass, field

from gameday.errors import ComponentFailed, InstallError, PortInUseError, StackError
from gameday.settings import StackSettings
from gameday.stack import process
from gameday.stack.component import Component, Health, Report, port_is_free
from gameday.stack.postgres_replica import PostgresReplica
from gameday.stack.registry import COMPONENTS, NAMES, OPT_IN_FLAGS, build_components
from gameday.toxiproxy import Proxy, ToxiproxyClient


@dataclass
class ComponentStatus:
    name: str
    healthy: bool
    pid: int | None
    port: int
    proxy_port: int | None
    version: str | None
    error: str | None = None
    proxies: list[dict[str, object]] = field(default_factory=list)
    role: str | None = None  # a search node's: "elected cluster manager", "follows node-0"


def _record_path(settings: StackSettings) -> str:
    return str(settings.run_dir / "stack.json")


def recorded_settings(settings: StackSettings) -> StackSettings:
    """The settings `up` used, so status/down see the running topology."""
    try:
        with open(_record_path(settings)) as f:
            record = json.load(f)
    except (FileNotFoundError, ValueError):
        return settings
    return settings.model_copy(
        update={
            "search_nodes": int(record["search_nodes"]),
            "rabbitmq_nodes": int(record.get("rabbitmq_nodes", 1)),
            "pg_replica": bool(record.get("pg_replica", False)),
            # a service started with --tls answers HTTPS only, whatever this command was given
            "tls": bool(record.get("tls", False)),
            **{flag: bool(record.get(flag, False)) for flag in OPT_IN_FLAGS},
        }
    )


def _write_record(settings: StackSettings, components: list[str]) -> None:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with open(_record_path(settings), "w") as f:
        json.dump(
            {
                "search_nodes": settings.search_nodes,
                "rabbitmq_nodes": settings.rabbitmq_nodes,
                "pg_replica": settings.pg_replica,
                "tls": settings.tls,
                **{flag: getattr(settings, flag) for flag in OPT_IN_FLAGS},
                "components": components,
            },
            f,
        )


def _keep_running_opt_ins(
    settings: StackSettings,
    recorded: StackSettings,
    running: list[str],
    only: list[str] | None = None,
) -> StackSettings:
    """A later `up` without --redis-sentinel (say) keeps the Sentinels that run; an `up`
    that names a recorded opt-in part (`restart_component` after a kill) starts it."""
    kept = {
        c.enabled_by: True
        for c in COMPONENTS
        if c.enabled_by in OPT_IN_FLAGS
        and getattr(recorded, c.enabled_by)
        and (c.name in running or (only is not None and c.name in only))
    }
    # --wal-archive has no component of its own: it is how PostgreSQL runs, so a restart
    # of PostgreSQL (`restart_component`, a restore) or an `up` while it runs keeps it.
    postgres = "postgres" in running or (only is not None and "postgres" in only)
    if recorded.wal_archive and postgres:
        kept["wal_archive"] = True
    return settings.model_copy(update=kept) if kept else settings


def _running(settings: StackSettings) -> list[str]:
    return [n for n in NAMES if _tracked_alive(settings, n)]


def _tracked_alive(settings: StackSettings, name: str) -> bool:
    tracked = process.read_tracked(settings.run_dir, name)
    return tracked is not None and tracked.is_alive()


def up(settings: StackSettings, report: Report, only: list[str] | None = None) -> float:
    """Start whatever is not running; return the wall time in seconds."""
    started_at = time.monotonic()
    running = _running(settings)
    recorded = recorded_settings(settings)
    if running and recorded.search_nodes != settings.search_nodes and "opensearch" in running:
        raise StackError(
            f"the stack is running with {recorded.search_nodes} search node(s), not "
            f"{settings.search_nodes}: run `gameday stack down` first"
        )
    if running and recorded.rabbitmq_nodes != settings.rabbitmq_nodes and "rabbitmq" in running:
        raise StackError(
            f"the stack is running with {recorded.rabbitmq_nodes} RabbitMQ node(s), not "
            f"{settings.rabbitmq_nodes}: run `gameday stack down` first"
        )
    if recorded.pg_replica and not settings.pg_replica and PostgresReplica.name in running:
        settings = settings.model_copy(update={"pg_replica": True})  # keep what runs
    settings = _keep_running_opt_ins(settings, recorded, running, only)
    if recorded.tls != settings.tls and "service" in running:
        if settings.tls:
            raise StackError("the service is running without TLS: run `gameday stack down` first")
        settings = settings.model_copy(update={"tls": True})  # keep what runs
    components = build_components(settings, only)
    for component in components:
        fix = component.missing()
        if fix:
            raise InstallError(fix)
    _write_record(settings, [c.name for c in components])
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    infra = [c for c in components if not getattr(c, "after_proxies", False)]
    apps = [c for c in components if getattr(c, "after_proxies", False)]
    copies = [c for c in infra if getattr(c, "after_infra", False)]
    asyncio.run(_start_all(settings, [c for c in infra if c not in copies], report))
    if copies:
        asyncio.run(_start_all(settings, copies, report))
    if _tracked_alive(settings, "toxiproxy"):
        _ensure_proxies(settings, components, report)
    if apps:
        asyncio.run(_start_all(settings, apps, report))
    names = {c.name for c in components}
    if {"opensearch", "service"} <= names and _tracked_alive(settings, "opensearch"):
        from gameday.stack.warmup import warm_up  # the profile's hook: only when needed

        warm_up(settings, report)
    return time.monotonic() - started_at


async def _start_all(settings: StackSettings, components: list[Component], report: Report) -> None:
    waiting: list[tuple[Component, float]] = []
    for component in components:
        tracked = process.read_tracked(settings.run_dir, component.name)
        if tracked is not None and tracked.is_alive():
            health = await component.checked()
            if health.healthy:
                report(f"{component.name:<10} already running (pid {tracked.pid})")
                continue
            waiting.append((component, time.monotonic()))
            continue
        for port in component.listen_ports:
            # a cluster node binds its own loopback address (RabbitMQ's 127.0.0.13..)
            if not port_is_free(port, getattr(component, "listen_host", settings.host)):
                raise PortInUseError(component.name, port)
        component.prepare()
        launch = component.launch()
        tracked = process.spawn(
            component.name,
            launch.argv,
            run_dir=settings.run_dir,
            log_path=component.log_path,
            env=launch.env,
            cwd=launch.cwd,
            user=launch.user,
            group=launch.group,
        )
        report(f"{component.name:<10} starting (pid {tracked.pid}, log {component.log_path})")
        waiting.append((component, time.monotonic()))
    await asyncio.gather(*(_wait_healthy(settings, c, t0, report) for c, t0 in waiting))


async def _wait_healthy(
    settings: StackSettings, component: Component, started: float, report: Report
) -> None:
    deadline = started + settings.start_timeout_s
    health = Health(healthy=False)
    while time.monotonic() < deadline:
        tracked = process.read_tracked(settings.run_dir, component.name)
        if tracked is None or not tracked.is_alive():
            raise ComponentFailed(component.name, "the process exited", str(component.log_path))
        health = await component.checked()
        if health.healthy:
            await component.after_healthy()
            proxy = f" -> proxy {component.proxy_port}" if component.proxy_port else ""
            report(
                f"{component.name:<10} healthy in {time.monotonic() - started:.1f}s "
                f"(port {component.port}{proxy}, version {health.version})"
            )
            return
        await asyncio.sleep(0.25)
    raise ComponentFailed(
        component.name,
        f"not healthy after {settings.start_timeout_s:.0f}s ({health.error})",
        str(component.log_path),
    )


def _ensure_proxies(settings: StackSettings, components: list[Component], report: Report) -> None:
    """Create missing proxies; leave existing ones (and their enabled state) alone."""
    wanted: list[Proxy] = [p for c in components for p in c.proxies()]
    with ToxiproxyClient(settings.toxiproxy_url) as client:
        existing = client.proxies()
        changed = [
            p
            for p in wanted
            if p.name not in existing
            or (existing[p.name].listen, existing[p.name].upstream) != (p.listen, p.upstream)
        ]
        if changed:
            client.populate(changed)
            for p in changed:
                report(f"{'proxy':<10} {p.name}: {p.listen} -> {p.upstream}")


def status(settings: StackSettings) -> list[ComponentStatus]:
    settings = recorded_settings(settings)
    components = build_components(settings)
    proxies = _proxy_states(settings)

    async def one(component: Component) -> ComponentStatus:
        tracked = process.read_tracked(settings.run_dir, component.name)
        alive = tracked is not None and tracked.is_alive()
        health = await component.checked() if alive else Health(False, error="not running")
        return ComponentStatus(
            name=component.name,
            healthy=health.healthy,
            pid=tracked.pid if alive and tracked else None,
            port=component.port,
            proxy_port=component.proxy_port,
            version=health.version,
            error=health.error,
            role=health.role,
            proxies=[
                {
                    "name": p.name,
                    "listen": p.listen,
                    "enabled": proxies[p.name].enabled if p.name in proxies else None,
                }
                for p in component.proxies()
            ],
        )

    async def gather() -> list[ComponentStatus]:
        return list(await asyncio.gather(*(one(c) for c in components)))

    return asyncio.run(gather())


def _proxy_states(settings: StackSettings) -> dict[str, Proxy]:
    if not _tracked_alive(settings, "toxiproxy"):
        return {}
    try:
        with ToxiproxyClient(settings.toxiproxy_url, timeout_s=2.0) as client:
            return client.proxies()
    except Exception:  # status must still answer when the API does not
        return {}


def status_json(statuses: list[ComponentStatus]) -> str:
    return json.dumps({"components": [asdict(s) for s in statuses]}, indent=2)


def promote_replica(settings: StackSettings, report: Report) -> float:
    """Promote the streaming replica; return the seconds until it accepted a write."""
    settings = recorded_settings(settings)
    if not settings.pg_replica or not _tracked_alive(settings, PostgresReplica.name):
        raise StackError(
            "the stack has no running PostgreSQL replica: start one with "
            "`gameday stack up --pg-replica`"
        )
    replica = PostgresReplica(settings)
    return asyncio.run(replica.promote(report))


def down(
    settings: StackSettings, report: Report, *, purge: bool = False, only: list[str] | None = None
) -> None:
    # Whatever the record says, an opt-in component that has a pid file is stopped too.
    settings = recorded_settings(settings).model_copy(
        update={"pg_replica": True, **dict.fromkeys(OPT_IN_FLAGS, True)}
    )
    for component in reversed(build_components(settings, only)):
        tracked = process.read_tracked(settings.run_dir, component.name)
        if tracked is None:
            continue
        if tracked.is_alive() or process.group_members(tracked.pid):
            t0 = time.monotonic()
            process.stop(tracked, sig=component.stop_signal, timeout_s=settings.stop_timeout_s)
            report(
                f"{component.name:<10} stopped (pid {tracked.pid}) in {time.monotonic() - t0:.1f}s"
            )
        process.forget(settings.run_dir, component.name)
        if tracked.is_alive() or process.group_members(tracked.pid):
            raise StackError(f"{component.name} (pid {tracked.pid}) survived SIGKILL")
    if purge:
        for path in (settings.data_dir, settings.run_dir, settings.logs_dir):
            shutil.rmtree(path, ignore_errors=True)
        report(f"purged data, logs and pid files under {settings.state_dir}")
