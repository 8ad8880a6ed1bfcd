"""The resilience score of the experiments in a run, judged by the report.

Per experiment: the share of its own objectives met, x100; overall: the mean over
the experiments that were judged. An experiment's own objectives are the gating
objectives of its fault windows (their `experiment` field names it; phase
`fault:FAULT`) and, with them, its stop condition. The stop condition alone is
not enough: it also holds when no fault was injected. An experiment with no
objectives of its own is "not judged" (left out of the mean, never counted as
100); one in error with objectives scores 0: it proved nothing. Like Litmus's
resilience score, a weighted share of what was promised.

    score = score_experiments(objectives, outcomes)
    score.resilience_score      # None: no experiment was judged
    score_line(score)           # one line for stdout
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from gameday.rundir import ExperimentOutcome, SteadyStateWait
from gameday.slo.verdict import ObjectiveResult

FORMULA = (
    "mean over the judged experiments of (own objectives met / own objectives) x 100; an "
    "experiment with no objectives of its own is not judged (left out of the mean); one in "
    "error scores 0"
)
STOP_CONDITION_METRIC = "safeguard_tripped"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ExperimentScore(_Model):
    name: str
    verdict: str
    judged: bool
    objectives_met: int
    objectives: int
    score: float | None
    steady_state_wait: SteadyStateWait | None = None
    steady_state_wait_after: SteadyStateWait | None = None


class ResilienceScore(_Model):
    resilience_score: float | None
    judged: int
    not_judged: list[str]
    experiments: list[ExperimentScore]
    formula: str = FORMULA


def own_objectives(objectives: list[ObjectiveResult], name: str) -> list[ObjectiveResult]:
    """The gating objectives of experiment `name`'s fault windows, and with them its
    stop condition; none when it has no fault-window objective."""
    mine = [o for o in objectives if o.gating and o.experiment == name]
    own = [o for o in mine if o.phase.startswith("fault:")]
    return own + [o for o in mine if o.metric == STOP_CONDITION_METRIC] if own else []


def score_experiments(
    objectives: list[ObjectiveResult], outcomes: list[ExperimentOutcome]
) -> ResilienceScore:
    per_experiment = []
    for outcome in outcomes:
        own = own_objectives(objectives, outcome.name)
        met = sum(1 for o in own if o.passed)
        score = None
        if own:
            score = 0.0 if outcome.verdict == "error" else round(100 * met / len(own), 1)
        per_experiment.append(
            ExperimentScore(
                name=outcome.name,
                verdict=outcome.verdict,
                judged=score is not None,
                objectives_met=met,
                objectives=len(own),
                score=score,
                steady_state_wait=outcome.steady_state_wait,
                steady_state_wait_after=outcome.steady_state_wait_after,
            )
        )
    judged = [p.score for p in per_experiment if p.score is not None]
    return ResilienceScore(
        resilience_score=round(sum(judged) / len(judged), 1) if judged else None,
        judged=len(judged),
        not_judged=[p.name for p in per_experiment if p.score is None],
        experiments=per_experiment,
    )


def owner_of(window: str, injected_s: float, outcomes: list[ExperimentOutcome]) -> str | None:
    """The experiment that injected fault `window`: the one whose journal names it
    (`faults`, written by the suite sidecar), else, for an outcome that does not
    record its faults, the one whose time span holds the injection."""
    for outcome in outcomes:
        if "faults" in outcome.model_fields_set:
            if window in outcome.faults:
                return outcome.name
            continue
        span = outcome.span_s
        if span is None:
            return outcome.name
        start, end = span[0] or 0.0, math.inf if span[1] is None else span[1]
        if start <= injected_s <= end:
            return outcome.name
    return None


def score_line(score: ResilienceScore) -> str:
    """One line for stdout: the score, and which experiments it leaves out and why."""
    left_out = (
        f"; not judged (no objectives of their own): {', '.join(score.not_judged)}"
        if score.not_judged
        else ""
    )
    if score.resilience_score is None:
        return f"resilience score: not judged (no experiment had objectives of its own){left_out}"
    return (
        f"resilience score {score.resilience_score:.1f}/100 over {score.judged} "
        f"experiment(s){left_out}"
    )
