"""The SLO file (model, loader, JSON Schema) and judging figures against it."""

from gameday.slo.errors import SloFileError
from gameday.slo.evaluate import judge_objectives
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
    "PERCENTILES",
    "Breaker",
    "ExperimentObjectives",
    "Figures",
    "Latency",
    "ObjectiveResult",
    "Objectives",
    "OuterLimits",
    "Regression",
    "SloFile",
    "SloFileError",
    "Verdict",
    "decide",
    "judge",
    "judge_objectives",
    "load_slo",
    "parse_slo",
    "render_schema",
    "slo_json_schema",
]
