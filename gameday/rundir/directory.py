"""`RunDir`: where each file of a run directory lives, and how each record is
written and read (formats in docs/run-data.md).

    run_dir = RunDir(Path("reports/20261129-061500-search_mix"))
    run_dir.write_run_record(RunRecord(run_id=run_dir.run_id, status="running"))
    run_dir.append_event(FaultInjected(name="redis-down", target="redis", fault="down"))
    record = run_dir.load_run_record()
    events = run_dir.load_events()

Readers that must never fail on a broken file (the report) pass a `problems`
list: each unreadable file or line is named there and skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from gameday.rundir.events import Event, parse_event
from gameday.rundir.records import (
    Exemplar,
    ExperimentOutcome,
    GeneratorReport,
    LedgerEntry,
    Reconciliation,
    RunRecord,
    UnconfirmedWrite,
)

__all__ = ["RunDir", "first_error", "write_atomic"]

M = TypeVar("M", bound=BaseModel)


def write_atomic(path: Path, text: str) -> None:
    """Readers polling the file (the live view, SLO probes) never see half of it."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    # --- the files -----------------------------------------------------------------
    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def load_config_json(self) -> Path:
        """The LoadConfig the Locust processes read (`locust ... --gameday-config`)."""
        return self.path / "load-config.json"

    @property
    def live_json(self) -> Path:
        return self.path / "live.json"

    @property
    def generator_json(self) -> Path:
        return self.path / "generator.json"

    @property
    def events_jsonl(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def timeseries_csv(self) -> Path:
        return self.path / "timeseries.csv"

    @property
    def histograms_dir(self) -> Path:
        return self.path / "histograms"

    @property
    def exemplars_jsonl(self) -> Path:
        return self.path / "exemplars.jsonl"

    @property
    def ledger_jsonl(self) -> Path:
        return self.path / "ledger.jsonl"

    @property
    def unconfirmed_jsonl(self) -> Path:
        return self.path / "unconfirmed.jsonl"

    @property
    def reconciliation_json(self) -> Path:
        return self.path / "reconciliation.json"

    @property
    def slo_yaml(self) -> Path:
        return self.path / "slo.yaml"

    @property
    def summary_json(self) -> Path:
        return self.path / "summary.json"

    @property
    def suite_json(self) -> Path:
        return self.path / "suite.json"

    @property
    def matrix_json(self) -> Path:
        return self.path / "matrix.json"

    @property
    def locust_dir(self) -> Path:
        return self.path / "locust"

    @property
    def chaostoolkit_log(self) -> Path:
        return self.path / "chaostoolkit.log"

    def experiment_json(self, suffix: str = "") -> Path:
        """How an experiment ended; `suffix` "-<name>" for each experiment of a suite."""
        return self.path / f"experiment{suffix}.json"

    def journal_json(self, suffix: str = "") -> Path:
        return self.path / f"journal{suffix}.json"

    def chaos_out(self, suffix: str = "") -> Path:
        return self.path / f"chaos{suffix}.out"

    @property
    def target_profile_json(self) -> Path:
        """The target profile the chaos providers read (`--var gameday_profile`)."""
        return self.path / "target-profile.json"

    def chaos_experiment_json(self, suffix: str = "") -> Path:
        """The experiment as `chaos run` ran it: the file's, declaring `gameday_run_dir`."""
        return self.path / f"chaos{suffix}.experiment.json"

    # --- run.json --------------------------------------------------------------------
    def write_run_record(self, record: RunRecord) -> None:
        write_atomic(self.run_json, record.model_dump_json(indent=2) + "\n")

    def load_run_record(self) -> RunRecord:
        return RunRecord.model_validate_json(self.run_json.read_text())

    # --- generator.json ------------------------------------------------------------
    def write_generator_report(self, report: GeneratorReport) -> None:
        write_atomic(self.generator_json, report.model_dump_json(indent=2) + "\n")

    def load_generator_report(self) -> GeneratorReport | None:
        """None when the Locust master wrote none (it failed) or it is unreadable."""
        try:
            return GeneratorReport.model_validate_json(self.generator_json.read_text())
        except (FileNotFoundError, ValidationError):
            return None

    # --- events.jsonl --------------------------------------------------------------
    def load_start_epoch(self) -> float | None:
        """When the load started (live.json's `start_epoch`), once the master said so."""
        try:
            return float(json.loads(self.live_json.read_text())["start_epoch"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def append_event(self, event: Event) -> Event:
        """Appends one event, dated on the load's clock when its start is known."""
        return self.append_events([event])[0]

    def append_events(self, events: Iterable[Event]) -> list[Event]:
        start = self.load_start_epoch()
        dated: list[Event] = [
            e.with_t_s(start) if e.t_s is None and start is not None else e for e in events
        ]
        with open(self.events_jsonl, "a") as f:
            for event in dated:
                f.write(event.model_dump_json() + "\n")
        return dated

    def load_events(self, problems: list[str] | None = None) -> list[Event]:
        """Every event in the file's order. An invalid line raises ValidationError, or
        is named in `problems` and skipped when a list is given."""
        if not self.events_jsonl.exists():
            if problems is None:
                raise FileNotFoundError(self.events_jsonl)
            problems.append("events.jsonl is missing")
            return []
        events: list[Event] = []
        lines = self.events_jsonl.read_text().splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                events.append(parse_event(line))
            except ValidationError as exc:
                if problems is None:
                    raise
                problems.append(f"events.jsonl:{number} is invalid: {first_error(exc)}")
        return events

    def backfill_event_times(self) -> int:
        """Gives every event written before the load's start was known (a chaos process
        that started ahead of Locust's first report) its `t_s` from its epoch; returns
        how many. Run once the load has ended, before anything reads the timeline."""
        start = self.load_start_epoch()
        if start is None or not self.events_jsonl.exists():
            return 0
        events = self.load_events()
        missing = sum(1 for e in events if e.t_s is None)
        if missing:
            dated = [e.with_t_s(start) if e.t_s is None else e for e in events]
            write_atomic(self.events_jsonl, "".join(e.model_dump_json() + "\n" for e in dated))
        return missing

    # --- exemplars.jsonl, ledger.jsonl ------------------------------------------------
    def write_exemplars(self, exemplars: Iterable[Exemplar]) -> None:
        with open(self.exemplars_jsonl, "w") as f:
            for exemplar in exemplars:
                f.write(exemplar.model_dump_json(exclude_none=True) + "\n")

    def write_ledger(self, entries: Iterable[LedgerEntry]) -> None:
        with open(self.ledger_jsonl, "w") as f:
            for entry in entries:
                f.write(entry.model_dump_json() + "\n")

    def load_ledger(self) -> list[LedgerEntry]:
        """Every acknowledged write, in the order acknowledged (none: an empty list)."""
        if not self.ledger_jsonl.exists():
            return []
        lines = self.ledger_jsonl.read_text().splitlines()
        return [LedgerEntry.model_validate_json(line) for line in lines if line.strip()]

    def write_unconfirmed(self, writes: Iterable[UnconfirmedWrite]) -> None:
        with open(self.unconfirmed_jsonl, "w") as f:
            for write in writes:
                f.write(write.model_dump_json() + "\n")

    def load_unconfirmed(self) -> list[UnconfirmedWrite]:
        """The writes still unanswered when the load stopped (none: an empty list)."""
        if not self.unconfirmed_jsonl.exists():
            return []
        lines = self.unconfirmed_jsonl.read_text().splitlines()
        return [UnconfirmedWrite.model_validate_json(line) for line in lines if line.strip()]

    # --- experiment*.json ------------------------------------------------------------
    def write_outcome(self, outcome: ExperimentOutcome, suffix: str = "") -> None:
        self.experiment_json(suffix).write_text(outcome.model_dump_json(indent=2) + "\n")

    def load_outcomes(self, problems: list[str] | None = None) -> list[ExperimentOutcome]:
        """How each experiment ended, in the order they ran where a suite recorded it."""
        outcomes = []
        for file in sorted(self.path.glob("experiment*.json")):
            try:
                outcomes.append(ExperimentOutcome.model_validate_json(file.read_text()))
            except ValidationError as exc:
                if problems is None:
                    raise
                problems.append(f"{file.name} is invalid: {first_error(exc)}")
        return sorted(outcomes, key=lambda o: (o.span_s or [None])[0] or 0.0)

    # --- reconciliation.json -----------------------------------------------------
    def write_reconciliation(self, reconciliation: Reconciliation) -> None:
        write_atomic(self.reconciliation_json, reconciliation.model_dump_json(indent=2) + "\n")

    def load_reconciliation(self, problems: list[str] | None = None) -> Reconciliation | None:
        """None when there is none (a run without an experiment)."""
        if not self.reconciliation_json.exists():
            return None
        try:
            return Reconciliation.model_validate_json(self.reconciliation_json.read_text())
        except ValidationError as exc:
            if problems is None:
                raise
            problems.append(f"reconciliation.json is invalid: {first_error(exc)}")
            return None
