"""`gameday init URL`: the starter files for testing a service of one's own.

    gameday init http://127.0.0.1:8080 --dependency postgres=127.0.0.1:5432 --path /items
    gameday proxies apply --profile target.yaml
    gameday run --profile target.yaml --rate 20 --duration 1m

Writes target.yaml, locustfile.py, slo.yaml and experiments/NAME-latency.json per
dependency (gameday.app.scaffold), never over an existing file. Exit codes: 0 written,
2 a bad URL, option or an existing file (one line; nothing written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gameday.app.scaffold import PROFILE_FILE, plan_starter, write_starter

console = Console(highlight=False, soft_wrap=True, markup=False)


def init(
    url: Annotated[str, typer.Argument(help="the service's base URL, e.g. http://127.0.0.1:8080")],
    dependency: Annotated[
        list[str] | None,
        typer.Option(
            "--dependency",
            help="NAME=HOST:PORT: a dependency reached through a Toxiproxy proxy (repeatable)",
        ),
    ] = None,
    path: Annotated[
        list[str] | None,
        typer.Option("--path", help="a path the Locust file GETs (repeatable; default: --health)"),
    ] = None,
    health: Annotated[
        str, typer.Option("--health", help="the health path under the URL (2xx when ready)")
    ] = "/",
    directory: Annotated[Path, typer.Option("--dir", help="where to write the files")] = Path("."),
    name: Annotated[
        str | None, typer.Option("--name", help="the target's name (default: the URL's host)")
    ] = None,
    auth_env: Annotated[
        str | None,
        typer.Option(
            "--auth-env",
            help="an environment variable holding a token: every request sends "
            "'Authorization: Bearer $VAR' (the token is never written)",
        ),
    ] = None,
    toxiproxy: Annotated[
        str | None,
        typer.Option(
            "--toxiproxy",
            help="the Toxiproxy API the proxies live on (default http://127.0.0.1:21474)",
        ),
    ] = None,
    prometheus: Annotated[
        str | None,
        typer.Option(
            "--prometheus",
            help="the Prometheus evaluating the service's alert rules: runs with experiments "
            "watch its alerts (time to detect; the SLO file's detect_within)",
        ),
    ] = None,
) -> None:
    """Write a target profile, a starter Locust file, an SLO file and one latency
    experiment per dependency; `gameday run --profile DIR/target.yaml` then runs them."""
    files = plan_starter(
        url,
        dependencies=dependency or [],
        paths=path or [],
        folder=directory,
        health=health,
        name=name,
        toxiproxy_url=toxiproxy,
        auth_env=auth_env,
        prometheus_url=prometheus,
    )
    write_starter(files)
    for file in files:
        console.print(f"wrote {file.path}  ({file.what})")
    profile = directory / PROFILE_FILE
    if dependency:
        console.print(f"next: gameday proxies apply --profile {profile}")
    console.print(f"then: gameday run --profile {profile} --rate 20 --duration 1m")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
