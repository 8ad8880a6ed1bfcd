"""Set up, start and stop Kinto (https://kinto.readthedocs.io) for the worked example.

Run it with gameday's Python (it uses asyncpg and gameday's stack settings):

    .venv/bin/python examples/kinto/kintoctl.py up      # install, database, proxy, migrate, start
    .venv/bin/python examples/kinto/kintoctl.py token   # the Basic credentials for KINTO_TOKEN
    .venv/bin/python examples/kinto/kintoctl.py down    # stop Kinto (the database stays)

Kinto reaches PostgreSQL only through the example's own Toxiproxy proxy
(`kinto-postgres`, 127.0.0.1:23432, created by `gameday proxies apply --profile
examples/kinto/profile.yaml`), never through the stack's `postgres` proxy. Its database
`kinto` (role `kinto`) lives on the stack's PostgreSQL server. `kinto[postgresql]` pins
its own dependencies (setuptools among them), so it gets a virtual environment of its
own, under the ignored `.gameday/kinto-venv`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from gameday.settings import StackSettings
from gameday.target import load_profile
from gameday.target.proxies import apply_proxies, connect

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PROFILE = HERE / "profile.yaml"
KINTO_REQUIREMENT = "kinto[postgresql]==26.5.0"

# Equal to profile.yaml (tests/integration/examples/test_kinto.py checks them).
KINTO_PORT = 28888
PROXY_PORT = 23432
DB_NAME = DB_USER = "kinto"
DB_PASSWORD = "kintopw"
# Kinto's basicauth turns any user:password into a user id; this is the load's.
LOAD_USER, LOAD_PASSWORD = "gameday", "gameday-load"


def state_dir() -> Path:
    return Path(os.environ.get("KINTO_STATE_DIR", StackSettings().state_dir / "kinto"))


def venv_dir() -> Path:
    return Path(os.environ.get("KINTO_VENV", StackSettings().state_dir / "kinto-venv"))


def base_url() -> str:
    return f"http://127.0.0.1:{KINTO_PORT}"


def token() -> str:
    return base64.b64encode(f"{LOAD_USER}:{LOAD_PASSWORD}".encode()).decode()


def install() -> Path:
    """The venv with Kinto, created once; returns the `kinto` executable."""
    venv = venv_dir()
    kinto = venv / "bin" / "kinto"
    if kinto.exists():
        return kinto
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "setuptools<82", KINTO_REQUIREMENT],
        check=True,
    )
    return kinto


async def _create_database(settings: StackSettings) -> None:
    # The real server (not a proxy): setting up must not depend on any fault.
    conn = await asyncpg.connect(
        host=settings.host,
        port=settings.postgres_port,
        user=settings.db_user,
        password=settings.db_password,
        database="postgres",
        timeout=10,
    )
    try:
        if not await conn.fetchval("select 1 from pg_roles where rolname = $1", DB_USER):
            await conn.execute(f"create role {DB_USER} login password '{DB_PASSWORD}'")
        if not await conn.fetchval("select 1 from pg_database where datname = $1", DB_NAME):
            await conn.execute(f"create database {DB_NAME} owner {DB_USER}")
        # Kinto refuses a database whose timezone is not UTC.
        await conn.execute(f"alter database {DB_NAME} set timezone to 'UTC'")
    finally:
        await conn.close()


def create_database() -> None:
    asyncio.run(_create_database(StackSettings()))


def write_ini() -> Path:
    dsn = f"postgresql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{PROXY_PORT}/{DB_NAME}"
    ini = state_dir() / "kinto.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    backends = "\n".join(
        f"kinto.{part}_backend = kinto.core.{part}.postgresql\nkinto.{part}_url = {dsn}"
        for part in ("storage", "cache", "permission")
    )
    ini.write_text(
        f"""# Written by examples/kinto/kintoctl.py; PostgreSQL through the kinto-postgres proxy.
[server:main]
use = egg:waitress#main
host = 127.0.0.1
port = {KINTO_PORT}

[app:main]
use = egg:kinto
{backends}
kinto.userid_hmac_secret = gameday-kinto-example-not-a-secret
multiauth.policies = basicauth
kinto.bucket_create_principals = system.Authenticated

[loggers]
keys = root, kinto

[handlers]
keys = console

[formatters]
keys = plain

[logger_root]
level = WARNING
handlers = console

[logger_kinto]
level = WARNING
handlers = console
qualname = kinto
propagate = 0

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = plain

[formatter_plain]
format = %(asctime)s %(levelname)s %(name)s %(message)s
"""
    )
    return ini


def apply_proxy() -> None:
    """What `gameday proxies apply --profile examples/kinto/profile.yaml` does: creates
    the profile's proxy (kinto-postgres), leaving every other proxy alone."""
    profile = load_profile(PROFILE)
    with connect(profile, source=str(PROFILE)) as client:
        apply_proxies(client, profile)


def migrate(kinto: Path, ini: Path) -> None:
    subprocess.run([str(kinto), "migrate", "--ini", str(ini)], check=True, cwd=state_dir())


def pid_file() -> Path:
    return state_dir() / "kinto.pid"


def running_pid() -> int | None:
    try:
        pid = int(pid_file().read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def heartbeat_ok() -> bool:
    try:
        return httpx.get(f"{base_url()}/v1/__heartbeat__", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start(kinto: Path, ini: Path, *, timeout_s: float = 60) -> int:
    """Kinto in the background (its pid in kinto.pid), once its heartbeat answers 200."""
    pid = running_pid()
    if pid is not None:  # ours already: never a second one (it would find the port taken)
        _wait_for_heartbeat(timeout_s)
        return pid
    if _port_taken():
        raise SystemExit(
            f"port {KINTO_PORT} is taken by a process that {pid_file()} does not name: "
            "stop it (another Kinto?) and run `kintoctl.py up` again"
        )
    log = state_dir() / "kinto.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(kinto), "start", "--ini", str(ini)],
            env={**os.environ, "KINTO_INI": str(ini)},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=state_dir(),
            start_new_session=True,
        )
    pid_file().write_text(f"{process.pid}\n")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if heartbeat_ok():
            return process.pid
        if process.poll() is not None:
            raise SystemExit(f"kinto exited ({process.returncode}); see {log}")
        time.sleep(0.2)
    stop()
    raise SystemExit(f"kinto's heartbeat did not answer 200 within {timeout_s:.0f} s; see {log}")


def _port_taken() -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", KINTO_PORT)) == 0


def _wait_for_heartbeat(timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not heartbeat_ok():
        if time.monotonic() > deadline:
            raise SystemExit(f"kinto (pid file {pid_file()}) does not answer its heartbeat")
        time.sleep(0.2)


def stop(*, timeout_s: float = 15) -> None:
    pid = running_pid()
    if pid is None:
        pid_file().unlink(missing_ok=True)
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)
    pid_file().unlink(missing_ok=True)


def up() -> int:
    kinto = install()
    create_database()
    ini = write_ini()
    apply_proxy()
    migrate(kinto, ini)
    return start(kinto, ini)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "install", "token", "status"])
    command = parser.parse_args(argv).command
    if command == "up":
        started = up()
        print(f"kinto {base_url()} pid {started}; KINTO_TOKEN: `kintoctl.py token`")  # noqa: T201 (a CLI)
    elif command == "down":
        stop()
    elif command == "install":
        print(install())  # noqa: T201 (a CLI)
    elif command == "token":
        print(token())  # noqa: T201 (a CLI)
    else:
        pid = running_pid()
        healthy = heartbeat_ok()
        print(f"kinto pid {pid} heartbeat {'ok' if healthy else 'failing'}")  # noqa: T201 (a CLI)
        raise SystemExit(0 if healthy else 1)


if __name__ == "__main__":
    main()
