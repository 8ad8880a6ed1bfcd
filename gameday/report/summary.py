"""The report's one model: `Summary` is written as summary.json, turned into
junit.xml and handed to the Jinja2 template. Its JSON Schema is published as
docs/summary.schema.json.

    summary = build_summary(load_run(run_dir), slo)
    summary.verdict            # Verdict.PASS / FAIL / ERROR
    summary.violated()         # the failed gating objectives, worst first
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gameday.report.analysis import BreakerCheck, Failover
from gameday.report.detection import AlertDetection
from gameday.report.probe_checks import ProbeCheck
from gameday.report.resilience import ResilienceScore
from gameday.report.restore_drill import RestoreDrill
from gameday.rundir import ExperimentOutcome, Reconciliation
from gameday.slo.verdict import Figures, ObjectiveResult, PhaseKind, Verdict

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunFacts(_Model):
    run_id: str
    scenario: str | None = None
    shape: str | None = None
    model: str | None = None
    target_rps: float | None = None
    users: int | None = None
    duration_s: float | None = None
    workers: int | None = None
    seed: int | None = None
    started_at: str | None = None
    ended_at: str | None = None
    git_sha: str | None = None
    versions: dict[str, Any] = Field(default_factory=dict)
    host: dict[str, Any] = Field(default_factory=dict)
    experiment: str | None = None
    status: str | None = None
    generator_valid: bool | None = None
    generator_reasons: list[str] = Field(default_factory=list)
    max_worker_cpu_pct: float | None = Field(
        default=None, description="the busiest load-sending process's CPU, % of one core (run.json)"
    )
    master_cpu_pct: float | None = Field(
        default=None, description="the Locust master's mean CPU, %"
    )
    ready_wait_s: float | None = Field(
        default=None, description="Locust's start to the clock's: every worker connected and ready"
    )


class PhaseFigures(_Model):
    name: str
    kind: PhaseKind
    start_s: float
    end_s: float
    overall: Figures
    endpoints: dict[str, Figures]


class ExperimentSummary(_Model):
    name: str
    target: str | None
    fault: str | None
    injected_s: float
    removed_s: float | None
    rto_s: float | None = Field(description="fault start to SLOs holding again (sustained)")
    recovered_at_s: float | None
    recovery_after_removal_s: float | None
    impact_after_s: float | None = Field(description="fault start to the first second missing SLOs")
    detected_after_s: float | None = Field(description="fault start to the breaker opening")
    breach_start_s: float | None
    breach_end_s: float | None
    breach_s: float
    rpo_s: float | None = Field(description="from reconciliation.json (whole run)")
    lost_writes: int | None
    lost_ids: list[str]
    breaker: BreakerCheck | None
    inferred: str | None = Field(
        default=None,
        description="how the fault window was inferred from the journal (the method recorded "
        "no fault: chaostoolkit-toxiproxy or the user's providers); null: recorded",
    )
    failover: Failover | None = Field(
        default=None,
        description="PostgreSQL primary lost, replica promoted: loss to the first successful "
        "document read and write (whole seconds)",
    )
    restore: RestoreDrill | None = Field(
        default=None,
        description="PostgreSQL's data destroyed and restored from a base backup and the WAL "
        "archive: RTO (to the first write), RPO (the newest restored write's age), lost writes",
    )
    probes: list[ProbeCheck] = Field(
        default_factory=list,
        description="checks its providers recorded for this window (phase `fault:<name>`): "
        "a RabbitMQ cluster's samples (outbox backlog, redelivered messages, queue leader)",
    )
    burn_rate: float | None = Field(description="error rate in the window / error budget")
    p95_rise_ms: float | None = Field(
        default=None, description="p95 in the fault window minus p95 in the steady phase"
    )
    degraded_answers: int = Field(
        default=0, description="successful answers in the window served by a fallback (X-Degraded)"
    )
    alerts: list[AlertDetection] = Field(
        default_factory=list,
        description="alerts seen firing after the fault (before the next one): time to detect "
        "and to resolve, from alert_firing / alert_resolved events",
    )
    alerts_watched: bool = Field(
        default=False, description="the run watched the target's alerts (alerts_watched event)"
    )


class ErrorBudget(_Model):
    availability_target_pct: float
    availability_pct: float | None
    budget_fraction: float
    allowed_errors: float
    errors: int
    consumed_pct: float | None = Field(description="share of the run's error budget used")
    burn_rates: dict[str, float] = Field(description="per phase: error rate / budget")


class Summary(_Model):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    verdict: Verdict
    reasons: list[str] = Field(description="why the verdict is ERROR (incomplete or invalid data)")
    slo_source: str
    run: RunFacts
    objectives: list[ObjectiveResult]
    overall: Figures
    endpoints: dict[str, Figures]
    phases: list[PhaseFigures]
    experiments: list[ExperimentSummary]
    outcomes: list[ExperimentOutcome] = Field(
        default_factory=list,
        description="how each Chaos Toolkit experiment ended (experiment*.json): "
        "its verdict, and whether a stop condition aborted it",
    )
    error_budget: ErrorBudget
    reconciliation: Reconciliation | None = None
    resilience: ResilienceScore | None = Field(
        default=None,
        description="the experiments' resilience score (suite.json is a view of it); "
        "null: the run had no experiment",
    )

    def violated(self) -> list[ObjectiveResult]:
        failed = [r for r in self.objectives if r.gating and not r.passed]
        return sorted(failed, key=_overshoot, reverse=True)

    def ordered_objectives(self) -> list[ObjectiveResult]:
        """Violated first, then the other gating ones, then informational."""
        violated = self.violated()
        rest = [r for r in self.objectives if r not in violated]
        return violated + sorted(rest, key=lambda r: not r.gating)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def _overshoot(result: ObjectiveResult) -> float:
    if result.measured is None or result.margin is None:
        return float("inf")
    return -result.margin / result.target if result.target else -result.margin


def summary_json_schema() -> dict[str, Any]:
    schema = Summary.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://gameday.invalid/schemas/summary.schema.json",
        "title": "gameday report summary.json",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def render_summary_schema() -> str:
    return json.dumps(summary_json_schema(), indent=2, sort_keys=True) + "\n"
