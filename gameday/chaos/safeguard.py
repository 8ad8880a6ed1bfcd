"""Which stop condition ended an experiment, recorded in its journal.

Every experiment declares a stop condition as a Chaos Toolkit safeguard
(`chaosaddons.controls.safeguards`): a probe checked every `frequency` seconds
during the run. When it leaves its tolerance, chaosaddons sends the `chaos run`
process SIGUSR1; chaoslib ends the method at once (a pause is cut short), runs
the rollbacks (`gameday run` passes `--rollback-strategy always`) and marks the
journal "interrupted", exactly as for SIGTERM. The probe's name stays in memory
(chaosaddons' `guardian`) and in a log line only.

This module is also a Chaos Toolkit control, loaded by `gameday run` for every
experiment (`chaos run --control-file CONTROL_FILE`). At the experiment's end,
before `chaos run` writes the journal, it copies what the guardian knows into
the journal's gameday extension and puts a `safeguard_tripped` event on the
run's timeline, at the time the probe found the condition breached:

    {"extensions": [{"name": "gameday",
                     "safeguard": {"probe": "error-rate-below-50pct-over-30s",
                                   "run": {<the probe's run: output, start, end, ...>}}}]}

The sidecar reads it back with `tripped_safeguard(journal)`.
(Written against chaostoolkit-addons 0.11.0, pinned in pyproject.toml: the
guardian's attributes are its internals.)
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday.chaos.events import Configuration, run_dir_of
from gameday.rundir import RunDir, SafeguardTripped

__all__ = [
    "CONTROL_FILE",
    "SAFEGUARDS_MODULE",
    "after_experiment_control",
    "declared_safeguards",
    "record_trip",
    "tripped_safeguard",
]

SAFEGUARDS_MODULE = "chaosaddons.controls.safeguards"
CONTROL_FILE = Path(__file__).with_name("safeguard_control.json")
EXTENSION = "gameday"


def after_experiment_control(
    context: dict[str, Any],
    state: dict[str, Any],
    configuration: Configuration | None = None,
    **_: Any,
) -> None:
    """Chaos Toolkit hook: `state` is the journal, written after this returns."""
    # imported here: only the `chaos run` process loads chaosaddons (it ships no types)
    from chaosaddons.controls.safeguards import guardian  # type: ignore[import-untyped]

    if guardian.interrupted and guardian.triggered_by:
        record_trip(
            state,
            probe=str(guardian.triggered_by),
            run=dict(guardian.triggered_by_run or {}),
            title=str(context.get("title", "")),
            run_dir=run_dir_of(configuration),
        )


def record_trip(
    journal: dict[str, Any], *, probe: str, run: dict[str, Any], title: str, run_dir: RunDir
) -> None:
    """Writes the fired safeguard into the journal and onto the timeline."""
    extensions = journal.setdefault("extensions", [])
    extension = next((e for e in extensions if e.get("name") == EXTENSION), None)
    if extension is None:
        extension = {"name": EXTENSION}
        extensions.append(extension)
    extension["safeguard"] = {"probe": probe, "run": run}
    run_dir.append_event(
        SafeguardTripped(
            epoch=_epoch(run.get("end")) or time.time(),
            probe=probe,
            title=title,
            value=run.get("output"),
        )
    )


def tripped_safeguard(journal: dict[str, Any]) -> str | None:
    """The name of the safeguard probe that aborted the experiment, or None."""
    for extension in journal.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == EXTENSION:
            safeguard = extension.get("safeguard")
            if isinstance(safeguard, dict) and safeguard.get("probe"):
                return str(safeguard["probe"])
    return None


def declared_safeguards(journal: dict[str, Any]) -> list[str]:
    """The stop-condition probes of the experiment the journal ran."""
    experiment = journal.get("experiment") or {}
    names: list[str] = []
    for control in experiment.get("controls") or []:
        provider = control.get("provider") or {}
        if provider.get("module") != SAFEGUARDS_MODULE:
            continue
        for probe in (provider.get("arguments") or {}).get("probes") or []:
            names.append(str(probe.get("name") or probe.get("ref") or "?"))
    return names


def _epoch(stamp: Any) -> float | None:
    """chaosaddons stamps a probe run with a naive `datetime.utcnow().isoformat()`."""
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
