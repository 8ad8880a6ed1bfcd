"""Game days: several experiments in sequence under one load profile.

    title: Dependencies game day
    scenario: search_mix          # load for the whole suite (flags override)
    rate: 20
    cooldown: 20s                 # between one experiment's recovery and the next
    experiments:
      - experiments/redis-down.json
      - experiments/rabbitmq-down.json

Experiment i starts after the warm-up of the first one, and each next one
after the previous one's method, recovery and the cool-down; a single
`gameday run --experiment X` is a suite of one. The resilience score is the
share of each experiment's own objectives met (RTO, RPO, lost writes,
breaker, `during`), averaged over the experiments with equal weights, x100:
like Litmus's resilience score, a weighted share of what was promised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gameday.chaos.experiment import Experiment, load_experiment
from gameday.errors import ConfigError
from gameday.load.timespan import parse_timespan
from gameday.settings import PROJECT_ROOT

SUITE_KEYS = {
    "title",
    "description",
    "scenario",
    "rate",
    "users",
    "spawn_rate",
    "shape",
    "cooldown",
    "experiments",
    "workers",
}


@dataclass(frozen=True)
class Suite:
    title: str
    experiments: list[Experiment]
    cooldown_s: float = 20.0
    load: dict[str, Any] = field(default_factory=dict)

    def starts_s(self) -> list[float]:
        starts, t = [], self.experiments[0].warmup_s if self.experiments else 0.0
        for experiment in self.experiments:
            starts.append(t)
            t += experiment.planned_method_s + experiment.recovery_s + self.cooldown_s
        return starts

    @property
    def planned_total_s(self) -> float:
        if not self.experiments:
            return 0.0
        last = self.experiments[-1]
        return self.starts_s()[-1] + last.planned_method_s + last.recovery_s


def suite_of(experiments: list[Experiment], *, title: str = "", cooldown_s: float = 20.0) -> Suite:
    return Suite(
        title=title or ", ".join(e.name for e in experiments),
        experiments=experiments,
        cooldown_s=cooldown_s,
    )


def load_suite(path: Path, overrides: dict[str, float] | None = None) -> Suite:
    if not path.is_file():
        raise ConfigError(f"suite file {path} does not exist: see experiments/suite.yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a suite is a mapping with title and experiments")
    unknown = sorted(set(data) - SUITE_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown field {unknown[0]!r}; expected one of {', '.join(sorted(SUITE_KEYS))}"
        )
    entries = data.get("experiments")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: 'experiments' must list at least one experiment file")
    experiments = [load_experiment(_locate(path, str(e)), overrides) for e in entries]
    names = [e.name for e in experiments]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: an experiment is listed twice; each runs once per suite")
    cooldown = parse_timespan(str(data.get("cooldown", "20s")), what="cooldown")
    load = {
        k: data[k]
        for k in ("scenario", "rate", "users", "spawn_rate", "shape", "workers")
        if k in data
    }
    return Suite(
        title=str(data.get("title", path.stem)),
        experiments=experiments,
        cooldown_s=cooldown,
        load=load,
    )


def _locate(suite_path: Path, entry: str) -> Path:
    """Beside the suite file, else from the project root, else as given."""
    for candidate in (suite_path.parent / entry, PROJECT_ROOT / entry, Path(entry)):
        if candidate.is_file():
            return candidate
    return Path(entry)  # load_experiment names it in its error


def resilience_score(summary: dict[str, Any], outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Per experiment: the share of its own objectives met; overall: their mean x100.
    An experiment that errored (e.g. its steady state was not met before the
    method) scores 0: it proved nothing."""
    per_experiment = []
    for outcome in outcomes:
        faults = _fault_names(summary, outcome)
        own = [
            o
            for o in summary.get("objectives", [])
            if str(o.get("phase", "")).removeprefix("fault:") in faults
            and str(o["name"]).split(" ")[0] in faults
        ]
        met = sum(1 for o in own if o["passed"])
        share = (
            0.0
            if outcome["verdict"] == "error"
            else ((met / len(own)) if own else (1.0 if outcome["verdict"] == "pass" else 0.0))
        )
        per_experiment.append(
            {
                "name": outcome["name"],
                "verdict": outcome["verdict"],
                "objectives_met": met,
                "objectives": len(own),
                "score": round(100 * share, 1),
            }
        )
    overall = (
        sum(p["score"] for p in per_experiment) / len(per_experiment) if per_experiment else 0.0
    )
    return {
        "resilience_score": round(overall, 1),
        "experiments": per_experiment,
        "formula": "mean over experiments of (own objectives met / own objectives) x 100; "
        "an experiment in error scores 0",
    }


def _fault_names(summary: dict[str, Any], outcome: dict[str, Any]) -> set[str]:
    """Faults (fault_injected names) that belong to this experiment's time span."""
    span = outcome.get("span_s")
    names = set()
    for experiment in summary.get("experiments", []):
        injected = float(experiment.get("injected_s") or 0.0)
        if span is None or span[0] <= injected <= span[1]:
            names.add(str(experiment["name"]))
    return names
