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

The resilience score is the share of each experiment's own objectives met
(RTO, RPO, lost writes, breaker, `during`: the objectives whose scope is
`experiment:FAULT` and phase `fault:FAULT` for a fault the experiment
injected), averaged over the experiments with equal weights, x100: like
Litmus's resilience score, a weighted share of what was promised. An
experiment with no objectives of its own (its method never ran, or nothing it
did was judged) is "not judged": left out of the mean, never counted as 100.
"""

from __future__ import annotations

import math
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


def resilience_score(summary: dict[str, Any], outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Per experiment: the share of its own objectives met, x100; overall: the mean over
    the experiments that were judged. One with no objectives of its own is not judged
    (score None, left out of the mean); one in error with objectives scores 0: it
    proved nothing. No experiment judged: the overall score is None too."""
    per_experiment = []
    for outcome in outcomes:
        own = own_objectives(summary, outcome)
        met = sum(1 for o in own if o["passed"])
        if not own:
            score = None
        elif outcome["verdict"] == "error":
            score = 0.0
        else:
            score = round(100 * met / len(own), 1)
        per_experiment.append(
            {
                "name": outcome["name"],
                "verdict": outcome["verdict"],
                "judged": score is not None,
                "objectives_met": met,
                "objectives": len(own),
                "score": score,
                "steady_state_wait": outcome.get("steady_state_wait"),
                "steady_state_wait_after": outcome.get("steady_state_wait_after"),
            }
        )
    judged = [p["score"] for p in per_experiment if p["score"] is not None]
    return {
        "resilience_score": round(sum(judged) / len(judged), 1) if judged else None,
        "judged": len(judged),
        "not_judged": [p["name"] for p in per_experiment if p["score"] is None],
        "experiments": per_experiment,
        "formula": "mean over the judged experiments of (own objectives met / own objectives) "
        "x 100; an experiment with no objectives of its own is not judged (left out of the "
        "mean); one in error scores 0",
    }


def score_line(score: dict[str, Any]) -> str:
    """One line for stdout: the score, and which experiments it leaves out and why."""
    not_judged = score["not_judged"]
    left_out = (
        f"; not judged (no objectives of their own): {', '.join(not_judged)}" if not_judged else ""
    )
    if score["resilience_score"] is None:
        return f"resilience score: not judged (no experiment had objectives of its own){left_out}"
    return (
        f"resilience score {score['resilience_score']:.1f}/100 over {score['judged']} "
        f"experiment(s){left_out}"
    )


def wait_line(outcome: dict[str, Any], stage: str) -> str | None:
    """One line for stdout about the wait for the steady state before the experiment
    (`stage` before) or after it, the last of a suite (after); None: no such wait."""
    wait = outcome.get("steady_state_wait" if stage == "before" else "steady_state_wait_after")
    if not wait or wait.get("held") is None:
        return None
    where = f"before {outcome['name']}" if stage == "before" else f"after {outcome['name']}"
    if wait["held"]:
        return f"steady state {where}: held after {wait['waited_s']:g}s"
    return f"steady state {where}: did not hold within {wait['timeout_s']:g}s" + (
        "; started anyway" if stage == "before" else "; the load ended"
    )


def own_objectives(summary: dict[str, Any], outcome: dict[str, Any]) -> list[dict[str, Any]]:
    """The objectives judged for the faults this experiment injected: scope
    `experiment:FAULT`, phase `fault:FAULT` (gameday.report.build); with them, its
    stop condition (scope `experiment:NAME`, phase `run`). The stop condition alone
    is not enough to judge an experiment: it also holds when no fault was injected.
    Objectives shown for information only (`gating` false: e.g. an endpoint the load
    never called in the window) are not judged, so not counted."""
    objectives = [o for o in summary.get("objectives", []) if o.get("gating", True)]
    wanted = {(f"experiment:{f}", f"fault:{f}") for f in _fault_names(summary, outcome)}
    own = [o for o in objectives if (o.get("scope"), o.get("phase")) in wanted]
    if not own:
        return []
    stop = (f"experiment:{outcome['name']}", "run")
    return own + [o for o in objectives if (o.get("scope"), o.get("phase")) == stop]


def _fault_names(summary: dict[str, Any], outcome: dict[str, Any]) -> set[str]:
    """The faults the experiment injected, as its journal names them (`faults`, written
    by the suite sidecar); else the fault windows that began in its time span."""
    if outcome.get("faults") is not None:
        return {str(f) for f in outcome["faults"]}
    span = outcome.get("span_s")
    names = set()
    for experiment in summary.get("experiments", []):
        injected = float(experiment.get("injected_s") or 0.0)
        if span is None or span[0] <= injected <= (math.inf if span[1] is None else span[1]):
            names.add(str(experiment["name"]))
    return names
