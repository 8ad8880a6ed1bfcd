"""`gameday target check --profile P`: validate a target profile without touching
anything; exit 0 when valid, 2 with one line naming the file, line and field.

    gameday target check --profile targets/reference.yaml
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gameday.target import load_profile

app = typer.Typer(help="Target profiles (docs/targets.md).", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True, markup=False)


@app.command("check")
def check_cmd(
    profile: Annotated[
        Path,
        typer.Option("--profile", envvar="GAMEDAY_PROFILE", help="the target profile (YAML)"),
    ],
) -> None:
    """Validate a profile: every field known and well typed, no literal token."""
    target = load_profile(profile)
    console.print(
        f"{profile}: valid target {target.name} at {target.base_url} "
        f"({len(target.dependencies)} dependencies, {len(target.traffic.mixes)} mixes, "
        f"{len(target.traffic.locustfile)} Locust files)"
    )
