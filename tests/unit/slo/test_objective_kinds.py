"""Objective kinds are one table (gameday/slo/kinds.py): every objective field of
the SLO file's models has a row there and a row in docs/slo.md, so a new field
without either fails here; and the rows judge what they declare."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from gameday.slo import Figures, parse_slo
from gameday.slo.evaluate import judge_experiment, judge_objectives
from gameday.slo.kinds import (
    EXPERIMENT_KINDS,
    NESTED_SCOPES,
    PARAMETERS,
    SCOPE_KINDS,
    ExperimentFigures,
    ObjectiveKind,
)
from gameday.slo.model import ExperimentObjectives, Objectives

DOCS = Path(__file__).parents[3] / "docs" / "slo.md"
ROW = re.compile(r"^\| `([a-z0-9_.]+)` \| `([a-z0-9_]+)` \((\w+)\) \| `(<=|>=)` \| ([^|]+?) \|")


def _leaves(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted names of a model's fields, nested models opened (not Objectives)."""
    names = set()
    for name, info in model.model_fields.items():
        inner = [a for a in (info.annotation, *typing.get_args(info.annotation)) if a]
        nested = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nested is not None and nested is not Objectives:
            names |= _leaves(nested, f"{prefix}{name}.")
        else:
            names.add(f"{prefix}{name}")
    return names


def _documented() -> set[tuple[str, str, str, str, str]]:
    rows = (ROW.match(line) for line in DOCS.read_text().splitlines())
    return {(m[1], m[2], m[3], m[4], m[5].strip()) for m in rows if m}


def test_every_objective_field_has_a_kind() -> None:
    assert _leaves(Objectives) == set(SCOPE_KINDS)
    assert _leaves(ExperimentObjectives) == set(EXPERIMENT_KINDS) | {*NESTED_SCOPES, *PARAMETERS}


def test_every_kind_measures_a_figure_that_exists() -> None:
    assert {k.metric for k in SCOPE_KINDS.values()} <= set(Figures.model_fields)
    assert {k.metric for k in EXPERIMENT_KINDS.values()} == set(ExperimentFigures.model_fields)


def test_docs_slo_md_has_one_row_per_kind_and_no_other() -> None:
    declared = {
        (k.field, k.metric, k.source, k.comparator, k.unit)
        for k in (*SCOPE_KINDS.values(), *EXPERIMENT_KINDS.values())
    }
    assert _documented() == declared


def _figures(**values: float) -> Figures:
    base: dict[str, float] = dict(
        count=100, errors=0, failures=0, duration_s=10, rps=10, error_rate_pct=0,
        p50_ms=1, p90_ms=2, p95_ms=3, p99_ms=4, p99_9_ms=5, max_ms=6,
    )  # fmt: skip
    return Figures.model_validate({**base, **values})


@pytest.mark.parametrize("kind", list(SCOPE_KINDS.values()), ids=lambda k: k.field)
def test_each_scope_kind_is_judged_on_its_figure_with_its_comparator(kind: ObjectiveKind) -> None:
    field, metric = kind.field, kind.metric
    head, _, leaf = field.rpartition(".")
    objectives = Objectives.model_validate({head: {leaf: 50}} if head else {field: 0.5})
    target = 50.0 if head else 0.5
    over, under = target * 1.5, target * 0.5
    passing = under if kind.comparator == "<=" else over
    failing = over if passing == under else under
    results = {}
    for measured in (passing, failing):
        [result] = judge_objectives(
            objectives, _figures(**{metric: measured}), scope="overall", phase="steady"
        )
        results[measured] = result
    assert results[passing].passed and not results[failing].passed
    assert results[passing].metric == metric
    assert results[passing].unit == kind.unit
    assert results[passing].target == target


def test_experiment_kinds_not_measured_are_not_judged_and_none_measured_fails() -> None:
    wanted = parse_slo(
        """
experiment_defaults:
  rto: 30s
  rpo: 0s
  max_lost_writes: 0
  breaker: {dependency: opensearch, open_within: 5s, close_within: 30s}
  min_degraded_answers: 1
"""
    ).for_experiment("opensearch-down")
    results = judge_experiment(
        wanted,
        ExperimentFigures(rto_s=12.0, breaker_opened_after_s=None, breaker_closed_after_s=3.0),
        name="opensearch-down",
        phase="fault:opensearch-down",
    )
    by_name = {r.name: r for r in results}
    assert list(by_name) == [
        "opensearch-down RTO",
        "opensearch-down opensearch breaker opens",
        "opensearch-down opensearch breaker closes",
    ]  # no reconciliation, no fault-window figures: RPO, lost writes, degraded not judged
    assert by_name["opensearch-down RTO"].passed
    opens = by_name["opensearch-down opensearch breaker opens"]
    assert not opens.passed and opens.note == "never opened"


def test_an_outer_limit_tighter_than_the_experiments_own_target_is_the_target() -> None:
    slo = parse_slo("experiment_defaults: {rto: 2h}\nlimits: {rto: 1h}")
    [rto] = judge_experiment(
        slo.for_experiment("x"), ExperimentFigures(rto_s=None), name="x", phase="fault:x",
        limits=slo.limits,
    )  # fmt: skip
    assert (rto.target, rto.passed, rto.note) == (
        3600.0,
        False,
        "SLOs never held again before the end",
    )
