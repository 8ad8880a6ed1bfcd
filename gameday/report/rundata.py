"""The run directory (docs/run-data.md) loaded into typed objects.

    run = load_run(Path("reports/20261129-061500-search_mix"))
    run.histograms["ALL"].merged()          # dense HDR counts over the whole run
    run.problems                             # why the data is incomplete, if it is

Loading never raises for missing or broken files: each problem is recorded in
`run.problems` and the report says ERROR with those reasons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from hdrh.histogram import HdrHistogram
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gameday.chaos.outcome import ExperimentOutcome
from gameday.report import hdr

ALL = "ALL"
_YEAR_S = 365 * 24 * 3600.0
M = TypeVar("M", bound=BaseModel)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class GeneratorInfo(_Open):
    valid: bool = True
    reasons: list[str] = Field(default_factory=list)
    max_worker_cpu_pct: float | None = None
    max_loop_lag_ms: float | None = None  # the worst timer lateness in a load-sending process
    workers_lost: int = 0
    late_starts: int = 0
    achieved_over_target: float | None = None


class RunRecord(_Open):
    run_id: str
    scenario: str | None = None
    shape: str | None = None
    model: Literal["open", "closed"] | None = None
    target_rps: float | None = None
    users: int | None = None
    spawn_rate: float | None = None
    duration_s: float | None = None
    workers: int | None = None
    seed: int | None = None
    target_url: str | None = None
    via_proxy: bool | None = None
    started_at: str | None = None
    ended_at: str | None = None
    git_sha: str | None = None
    versions: dict[str, Any] = Field(default_factory=dict)
    host: dict[str, Any] = Field(default_factory=dict)
    slo_file: str | None = None
    experiment: str | None = None
    generator: GeneratorInfo | None = None
    status: str = "completed"
    error: str | None = None


class Event(_Open):
    type: str
    t_s: float
    wall: str | None = None
    name: str | None = None
    target: str | None = None
    fault: str | None = None
    dependency: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None


class Exemplar(_Open):
    second: int
    endpoint: str
    latency_ms: float
    request_id: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    wall: str | None = None


class Reconciliation(_Open):
    checked_at: str | None = None
    acknowledged: int = 0
    present: int = 0
    lost: int = 0
    lost_ids: list[str] = Field(default_factory=list)
    rpo_s: float = 0.0
    stale_versions: int = 0
    not_yet_indexed: int = 0
    max_indexing_lag_s: float | None = None


@dataclass
class HistogramSeries:
    """One endpoint's per-second histograms, stored sparsely (CSR-like):
    second i's non-zero buckets are `index[offsets[i]:offsets[i+1]]`."""

    seconds: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    index: npt.NDArray[np.uint16]
    count: npt.NDArray[np.int64]

    def merged(self, start_s: float | None = None, end_s: float | None = None) -> hdr.Counts:
        """Exact merge of the seconds in [start_s, end_s)."""
        lo = 0 if start_s is None else int(np.searchsorted(self.seconds, start_s, side="left"))
        hi = (
            len(self.seconds)
            if end_s is None
            else int(np.searchsorted(self.seconds, end_s, side="left"))
        )
        a, b = int(self.offsets[lo]), int(self.offsets[hi])
        merged = np.bincount(self.index[a:b], weights=self.count[a:b], minlength=hdr.counts_len())
        return np.rint(merged).astype(np.int64)

    def second_of_entry(self) -> npt.NDArray[np.int64]:
        """For each stored bucket, the position of its second (for resampling)."""
        return np.repeat(np.arange(len(self.seconds)), np.diff(self.offsets))


def read_hlog(path: Path) -> HistogramSeries:
    """Parse a HistogramLogWriter file (absolute or relative timestamps)."""
    start_time: float | None = None
    seconds: list[int] = []
    indexes: list[npt.NDArray[np.int64]] = []
    counts: list[npt.NDArray[np.int64]] = []
    with open(path) as f:
        for line in f:
            if line.startswith("#[StartTime:"):
                start_time = float(line.split()[1])
                continue
            if line.startswith(("#", '"')) or not line.strip():
                continue
            stamp, _length, _max, encoded = line.split(",", 3)
            t = float(stamp)
            if start_time is not None and t > start_time - _YEAR_S:
                t -= start_time
            histogram = HdrHistogram.decode(encoded.strip().encode("ascii"))
            dense = np.ctypeslib.as_array(histogram.counts)
            nonzero = np.flatnonzero(dense)
            seconds.append(int(round(t)))
            indexes.append(nonzero)
            counts.append(dense[nonzero].astype(np.int64))
    order = np.argsort(np.asarray(seconds, dtype=np.int64), kind="stable")
    sizes = np.asarray([len(indexes[i]) for i in order], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return HistogramSeries(
        seconds=np.asarray(seconds, dtype=np.int64)[order],
        offsets=offsets,
        index=(
            np.concatenate([indexes[i] for i in order]).astype(np.uint16)
            if seconds
            else np.zeros(0, dtype=np.uint16)
        ),
        count=(
            np.concatenate([counts[i] for i in order]) if seconds else np.zeros(0, dtype=np.int64)
        ),
    )


@dataclass
class RunData:
    path: Path
    record: RunRecord | None
    timeseries: pd.DataFrame  # every row of timeseries.csv
    histograms: dict[str, HistogramSeries]
    events: list[Event]
    exemplars: list[Exemplar]
    ledger_writes: int
    reconciliation: Reconciliation | None
    problems: list[str] = field(default_factory=list)
    outcomes: list[ExperimentOutcome] = field(default_factory=list)  # experiment*.json

    @property
    def run_id(self) -> str:
        return self.record.run_id if self.record else self.path.name

    @property
    def endpoints(self) -> list[str]:
        return sorted(name for name in self.histograms if name != ALL)

    def per_second(self) -> pd.DataFrame:
        """The ALL rows, one per second, indexed by second."""
        frame = self.timeseries
        if frame.empty:
            return frame
        return frame[frame["endpoint"] == ALL].set_index("second").sort_index()


def load_run(path: Path) -> RunData:
    problems: list[str] = []
    record = _load_record(path, problems)
    timeseries = _load_timeseries(path, problems)
    histograms = _load_histograms(path, problems)
    events = _load_lines(path / "events.jsonl", Event, problems, required=True)
    exemplars = _load_lines(path / "exemplars.jsonl", Exemplar, problems, required=False)
    ledger = path / "ledger.jsonl"
    writes = (
        sum(1 for line in ledger.read_text().splitlines() if line.strip()) if ledger.exists() else 0
    )
    reconciliation = None
    if (path / "reconciliation.json").exists():
        try:
            reconciliation = Reconciliation.model_validate_json(
                (path / "reconciliation.json").read_text()
            )
        except ValidationError as exc:
            problems.append(f"reconciliation.json is invalid: {_first_error(exc)}")
    return RunData(
        path=path,
        record=record,
        timeseries=timeseries,
        histograms=histograms,
        events=sorted(events, key=lambda e: e.t_s),
        exemplars=exemplars,
        ledger_writes=writes,
        reconciliation=reconciliation,
        problems=problems,
        outcomes=_load_outcomes(path, problems),
    )


def _load_outcomes(path: Path, problems: list[str]) -> list[ExperimentOutcome]:
    """How each experiment ended: experiment.json, or experiment-<name>.json in a suite."""
    outcomes = []
    for file in sorted(path.glob("experiment*.json")):
        try:
            outcomes.append(ExperimentOutcome.model_validate_json(file.read_text()))
        except ValidationError as exc:
            problems.append(f"{file.name} is invalid: {_first_error(exc)}")
    # in the order they ran, where the suite recorded it
    return sorted(outcomes, key=lambda o: (o.span_s or [None])[0] or 0.0)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"


def _load_record(path: Path, problems: list[str]) -> RunRecord | None:
    file = path / "run.json"
    if not file.exists():
        problems.append("run.json is missing: this is not a complete run directory")
        return None
    try:
        record = RunRecord.model_validate_json(file.read_text())
    except ValidationError as exc:
        problems.append(f"run.json is invalid: {_first_error(exc)}")
        return None
    if record.status != "completed":
        why = f": {record.error}" if record.error else ""
        problems.append(f"the run did not complete (status {record.status}){why}")
    if record.generator is None:
        problems.append("run.json has no generator record: the load generator wrote no results")
    elif not record.generator.valid:
        reasons = "; ".join(record.generator.reasons) or "no reason recorded"
        problems.append(f"the load generator was the bottleneck, so the run is invalid: {reasons}")
    return record


def _load_timeseries(path: Path, problems: list[str]) -> pd.DataFrame:
    file = path / "timeseries.csv"
    if not file.exists():
        problems.append("timeseries.csv is missing")
        return pd.DataFrame()
    frame = pd.read_csv(file)
    missing = {"second", "endpoint", "requests", "failures"} - set(frame.columns)
    if missing:
        problems.append(f"timeseries.csv lacks columns {', '.join(sorted(missing))}")
        return pd.DataFrame()
    # `degraded` is newer than the failure kinds: older run directories lack it.
    for kind in ("fail_5xx", "fail_4xx", "fail_connection", "fail_timeout", "degraded"):
        if kind not in frame.columns:
            frame[kind] = 0
        frame[kind] = frame[kind].fillna(0).astype(np.int64)
    if frame[frame["endpoint"] == ALL].empty:
        problems.append("timeseries.csv has no ALL rows: no request completed")
    return frame


def _load_histograms(path: Path, problems: list[str]) -> dict[str, HistogramSeries]:
    folder = path / "histograms"
    index_file = folder / "index.json"
    if index_file.exists():
        files: dict[str, str] = json.loads(index_file.read_text())
    elif folder.is_dir():
        files = {p.stem: p.name for p in sorted(folder.glob("*.hlog"))}
    else:
        problems.append("histograms/ is missing: latency percentiles cannot be computed")
        return {}
    series: dict[str, HistogramSeries] = {}
    for endpoint, name in files.items():
        try:
            series[endpoint] = read_hlog(folder / name)
        except (OSError, ValueError) as exc:
            problems.append(f"histograms/{name} is unreadable: {exc}")
    if ALL not in series:
        problems.append("histograms/ALL.hlog is missing")
    return series


def _load_lines(file: Path, model: type[M], problems: list[str], *, required: bool) -> list[M]:
    if not file.exists():
        if required:
            problems.append(f"{file.name} is missing")
        return []
    items: list[M] = []
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(model.model_validate_json(line))
        except ValidationError as exc:
            problems.append(f"{file.name}:{number} is invalid: {_first_error(exc)}")
    return items
