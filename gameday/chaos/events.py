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


def record_event(
    kind: str, directory: Path | None = None, *, at_epoch: float | None = None, **fields: Any
) -> dict[str, Any]:
    """Append one event; the run directory comes from GAMEDAY_RUN_DIR (the chaos
    process) unless given (the gameday run process itself). `at_epoch` dates an event
    recorded after the fact (the report sorts the timeline by `t_s`)."""
    now = time.time() if at_epoch is None else at_epoch
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


def backfill_times(directory: Path) -> int:
    """Gives every event written before live.json existed (a chaos process that started
    ahead of Locust's first report) its ``t_s`` from its epoch; returns how many. Run once
    the load has ended, before anything reads the timeline."""
    path = directory / "events.jsonl"
    start = load_start_epoch(directory)
    if start is None or not path.exists():
        return 0
    lines = path.read_text().splitlines()
    fixed = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        event = json.loads(line)
        if event.get("t_s") is None and isinstance(event.get("epoch"), (int, float)):
            event["t_s"] = round(event["epoch"] - start, 3)
            lines[i] = json.dumps(event)
            fixed += 1
    if fixed:
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(path)
    return fixed
