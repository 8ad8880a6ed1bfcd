"""The resilience score, judged by the report from the objectives' `experiment` field
(never by splitting an objective's name) and written into summary.json."""

from __future__ import annotations

from typing import Any

from gameday.report.resilience import owner_of, score_experiments, score_line
from gameday.rundir import ExperimentOutcome
from gameday.slo.verdict import ObjectiveResult


def _objective(
    window: str, what: str, passed: bool, *, experiment: str | None = None, **extra: Any
) -> ObjectiveResult:
    """An objective as gameday.report.build judges it for a fault window: scope
    experiment:WINDOW, phase fault:WINDOW, and the experiment that injected it."""
    fields: dict[str, Any] = {
        "name": f"{window} {what}",
        "scope": f"experiment:{window}",
        "phase": f"fault:{window}",
        "metric": "rto_s",
        "comparator": "<=",
        "target": 1.0,
        "measured": 0.0 if passed else 2.0,
        "unit": "s",
        "passed": passed,
        "gating": True,
        "experiment": window if experiment is None else experiment,
    }
    return ObjectiveResult(**{**fields, **extra})


def _outcome(name: str, verdict: str = "pass", **extra: Any) -> ExperimentOutcome:
    return ExperimentOutcome.model_validate(
        {"name": name, "title": name, "status": "completed", "verdict": verdict, **extra}
    )


OWN = [
    _objective("redis-down", "RTO", True),
    _objective("redis-down", "RPO", True),
    _objective("rabbitmq-down", "RTO", True),
    _objective("rabbitmq-down", "RPO", False),
]


def test_the_resilience_score_is_the_mean_share_of_each_experiments_own_objectives() -> None:
    # the whole run's objectives, even inside the fault window, are not an experiment's own
    run_wide = _objective("redis-down", "error rate", False, experiment="", scope="overall")
    outcomes = [_outcome("redis-down"), _outcome("rabbitmq-down", "fail")]
    score = score_experiments([*OWN, run_wide], outcomes)
    assert [e.score for e in score.experiments] == [100.0, 50.0]
    assert score.resilience_score == 75.0 and score.not_judged == []
    errored = [outcomes[0], _outcome("rabbitmq-down", "error")]
    assert score_experiments(OWN, errored).resilience_score == 50.0


def test_an_objective_counts_by_its_experiment_field_whatever_its_name() -> None:
    during = _objective("rabbitmq-down", "", False, name="overall p95 latency [fault:x]")
    entry = score_experiments([*OWN, during], [_outcome("rabbitmq-down", "fail")]).experiments[0]
    assert (entry.objectives_met, entry.objectives, entry.score) == (1, 3, 33.3)


def test_an_experiment_without_objectives_of_its_own_is_not_judged_never_100() -> None:
    score = score_experiments(OWN[:2], [_outcome("redis-down"), _outcome("rabbitmq-down")])
    broker = score.experiments[1]
    assert broker.score is None and broker.judged is False and broker.objectives == 0
    assert score.resilience_score == 100.0  # the mean of the judged one only
    assert score.judged == 1 and score.not_judged == ["rabbitmq-down"]
    assert "not judged (no objectives of their own): rabbitmq-down" in score_line(score)


def test_a_suite_with_nothing_judged_has_no_score() -> None:
    score = score_experiments([], [_outcome("redis-down", "error")])
    assert score.resilience_score is None and score.experiments[0].score is None
    assert score_line(score).startswith("resilience score: not judged")


def test_a_stop_condition_counts_only_beside_fault_objectives() -> None:
    """A safeguard that did not fire also holds when no fault was injected: alone it
    would score an experiment that proved nothing 100."""

    def stop(name: str, passed: bool) -> ObjectiveResult:
        return _objective(name, "stop condition", passed, phase="run", metric="safeguard_tripped")

    objectives = [*OWN[2:], stop("rabbitmq-down", False), stop("redis-down", True)]
    score = score_experiments(objectives, [_outcome("redis-down"), _outcome("rabbitmq-down")])
    redis, broker = score.experiments
    assert redis.score is None and redis.objectives == 0
    assert (broker.objectives_met, broker.objectives) == (1, 3)


def test_objectives_shown_for_information_only_are_not_counted() -> None:
    shown = _objective("rabbitmq-down", "PUT /v1/documents/{id}", False, gating=False)
    entry = score_experiments([*OWN, shown], [_outcome("rabbitmq-down")]).experiments[0]
    assert (entry.objectives_met, entry.objectives, entry.score) == (1, 2, 50.0)


def test_a_fault_belongs_to_the_experiment_whose_journal_names_it() -> None:
    """Even before its planned start: the planned start (10.0 s) and the timeline's clock
    differ by a fraction of a second (reports/example's redis-down was injected at 9.948 s)."""
    outcomes = [
        _outcome("redis-down", faults=["redis-down"], span_s=[10.0, 70.0]),
        _outcome("rabbitmq-down", faults=["rabbitmq-down"], span_s=[70.0, None]),
    ]
    assert owner_of("redis-down", 9.948, outcomes) == "redis-down"
    assert owner_of("rabbitmq-down", 80.0, outcomes) == "rabbitmq-down"
    assert owner_of("opensearch-down", 80.0, outcomes) is None


def test_without_journal_names_the_span_on_the_timeline_decides() -> None:
    outcomes = [
        _outcome("redis-down", span_s=[5.0, 70.0]),
        _outcome("rabbitmq-down", span_s=[70.0, None]),
    ]
    assert owner_of("redis-down", 9.9, outcomes) == "redis-down"
    assert owner_of("rabbitmq-down", 80.0, outcomes) == "rabbitmq-down"
    assert owner_of("redis-down", 9.9, [_outcome("redis-down")]) == "redis-down"  # no span
