"""Chaos events on the run's one timeline (events.jsonl in the run directory).

`gameday run` gives the chaos process GAMEDAY_RUN_DIR; `t_s` is measured
from the load's start (live.json's start_epoch), like every other event."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from gameday.load.rundir import iso


def run_dir() -> Path | None:
    value = os.environ.get("GAMEDAY_RUN_DIR")
    return Path(value) if value else None


def load_start_epoch(directory: Path) -> float | None:
    try:
        return float(json.loads((directory / "live.json").read_text())["start_epoch"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


def record_event(kind: str, directory: Path | None = None, **fields: Any) -> dict[str, Any]:
    """Append one event; the run directory comes from GAMEDAY_RUN_DIR (the chaos
    process) unless given (the gameday run process itself)."""
    now = time.time()
    directory = directory or run_dir()
    start = load_start_epoch(directory) if directory else None
    event = {
        "type": kind,
        "t_s": round(now - start, 3) if start else None,
        "wall": iso(now),
        "epoch": round(now, 3),
        **fields,
    }
    if directory is not None:
        with open(directory / "events.jsonl", "a") as f:
            f.write(json.dumps(event) + "\n")
    return event
