"""The SLO file (model, loader, JSON Schema) and judging figures against it."""

from gameday.slo.errors import SloFileError
from gameday.slo.evaluate import judge_experiment, judge_objectives
from gameday.slo.kinds import EXPERIMENT_KINDS, SCOPE_KINDS, ExperimentFigures, ObjectiveKind
from gameday.slo.loader import load_slo, parse_slo
from gameday.slo.model import (
    PERCENTILES,
    Breaker,
    ExperimentObjectives,
    Latency,
    Objectives,
    OuterLimits,
    Regression,
    SloFile,
)
from gameday.slo.schema import render_schema, slo_json_schema
from gameday.slo.verdict import Figures, ObjectiveResult, Verdict, decide, judge

__all__ = [
    "EXPERIMENT_KINDS",
    "PERCENTILES",
    "SCOPE_KINDS",
    "Breaker",
    "ExperimentFigures",
    "ExperimentObjectives",
    "Figures",
    "Latency",
    "ObjectiveKind",
    "ObjectiveResult",
    "Objectives",
    "OuterLimits",
    "Regression",
    "SloFile",
    "SloFileError",
    "Verdict",
    "decide",
    "judge",
    "judge_experiment",
    "judge_objectives",
    "load_slo",
    "parse_slo",
    "render_schema",
    "slo_json_schema",
]
