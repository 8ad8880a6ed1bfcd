"""Options several commands share, declared once: the target profile and its mix."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ProfileOption = Annotated[
    Path | None,
    typer.Option(
        "--profile",
        envvar="GAMEDAY_PROFILE",
        help="target profile YAML (default: targets/reference.yaml, the reference service)",
    ),
]
MixOption = Annotated[
    str | None,
    typer.Option(
        "--scenario",
        "--mix",
        envvar="GAMEDAY_SCENARIO",
        help="one of the profile's named mixes (default: its first)",
    ),
]
