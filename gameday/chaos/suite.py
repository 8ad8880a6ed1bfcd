"""Game days: several experiments in sequence under one load profile.

    title: Dependencies game day
    scenario: search_mix          # load for the whole suite (flags override)
    rate: 20
    cooldown: 20s                 # between one experiment's recovery and the next
    settle_timeout: 60s           # then at most this long for the steady state to hold
    experiments:
      - experiments/redis-down.json
      - experiments/rabbitmq-down.json

Experiment i starts after the warm-up of the first one, and each next one
after the previous one's method, recovery and the cool-down, once the steady
state holds again (`gameday.chaos.settle`: the SLO window its own steady-state
probe checks, waited for at most `settle_timeout`); after the last one's
recovery the load ends once the steady state holds again, bounded alike. The
load is planned for the longest such schedule and ends when it is over. A
single `gameday run --experiment X` is a suite of one without waits.

The report judges the suite: its resilience score (gameday.report.resilience)
is written into summary.json, and suite.json is a view of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gameday.chaos.experiment import Experiment, load_experiment
from gameday.chaos.settle import DEFAULT_SETTLE_TIMEOUT_S
from gameday.errors import ConfigError
from gameday.settings import PROJECT_ROOT
from gameday.timespan import parse_timespan

SUITE_KEYS = {
    "title",
    "description",
    "scenario",
    "rate",
    "users",
    "spawn_rate",
    "shape",
    "cooldown",
    "settle_timeout",
    "experiments",
    "workers",
}


@dataclass(frozen=True)
class Suite:
    title: str
    experiments: list[Experiment]
    cooldown_s: float = 20.0
    load: dict[str, Any] = field(default_factory=dict)
    settle_timeout_s: float = DEFAULT_SETTLE_TIMEOUT_S

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

    @property
    def wait_budget_s(self) -> float:
        """The most the waits for the steady state may add (one before each experiment
        but the first, one after the last): the load is planned this much longer and
        ends early when the waits were shorter."""
        return len(self.experiments) * self.settle_timeout_s


def suite_of(
    experiments: list[Experiment],
    *,
    title: str = "",
    cooldown_s: float = 20.0,
    settle_timeout_s: float = 0.0,
) -> Suite:
    """A suite of these experiments; by default without waits for the steady state, as
    `gameday run --experiment X` runs one (its planned warm-up and recovery only)."""
    return Suite(
        title=title or ", ".join(e.name for e in experiments),
        experiments=experiments,
        cooldown_s=cooldown_s,
        settle_timeout_s=settle_timeout_s,
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
    settle = parse_timespan(
        str(data.get("settle_timeout", f"{DEFAULT_SETTLE_TIMEOUT_S:g}s")), what="settle_timeout"
    )
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
        settle_timeout_s=settle,
    )


def _locate(suite_path: Path, entry: str) -> Path:
    """Beside the suite file, else from the project root, else as given."""
    for candidate in (suite_path.parent / entry, PROJECT_ROOT / entry, Path(entry)):
        if candidate.is_file():
            return candidate
    return Path(entry)  # load_experiment names it in its error
