"""The run directory (docs/run-data.md) loaded into typed objects.

    run = load_run(Path("reports/20261129-061500-search_mix"))
    run.histograms["ALL"].merged()          # dense HDR counts over the whole run
    run.problems                             # why the data is incomplete, if it is

Loading never raises for missing or broken files: each problem is recorded in
`run.problems` and the report says ERROR with those reasons.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ValidationError

from gameday.report import hdr
from gameday.report.hlog import DECODE_ERRORS, HistogramFile, read_intervals
from gameday.rundir import (
    Event,
    Exemplar,
    ExperimentOutcome,
    Reconciliation,
    RunDir,
    RunRecord,
    first_error,
)

ALL = "ALL"
M = TypeVar("M", bound=BaseModel)


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

    def prefetch(self, cuts: Iterable[float]) -> None:
        """Nothing to read ahead: every second is in memory."""

    def second_of_entry(self) -> npt.NDArray[np.int64]:
        """For each stored bucket, the position of its second (for resampling)."""
        return np.repeat(np.arange(len(self.seconds)), np.diff(self.offsets))


def read_hlog(path: Path) -> HistogramSeries:
    """Parse a HistogramLogWriter file (absolute or relative timestamps) into memory.
    Raises one of `hlog.DECODE_ERRORS` on a broken line."""
    seconds: list[int] = []
    indexes: list[npt.NDArray[np.int64]] = []
    counts: list[npt.NDArray[np.int64]] = []
    for second, first, dense in read_intervals(path):
        nonzero = np.flatnonzero(dense)
        seconds.append(second)
        indexes.append(nonzero + first)
        counts.append(dense[nonzero])
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


class PerSecondHistograms(Protocol):
    """What the report asks of an endpoint's per-second histograms: in memory
    (`HistogramSeries`) or folded from the file on demand (`hlog.HistogramFile`)."""

    def prefetch(self, cuts: Iterable[float]) -> None: ...

    def merged(self, start_s: float | None = None, end_s: float | None = None) -> hdr.Counts: ...


@dataclass
class RunData:
    path: Path
    record: RunRecord | None
    timeseries: pd.DataFrame  # every row of timeseries.csv
    histograms: Mapping[str, PerSecondHistograms]
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


def load_run(path: Path, *, stream_histograms: bool = False) -> RunData:
    """The run directory's data. With `stream_histograms`, the histograms stay in
    their files until a range of seconds is asked for (`hlog.HistogramFile`: one
    pass per file, memory independent of the run's length); a broken file is then
    named in `problems` when it is read, not here."""
    problems: list[str] = []
    run_dir = RunDir(path)
    record = _load_record(path, problems)
    timeseries = _load_timeseries(path, problems)
    histograms = _load_histograms(path, problems, stream=stream_histograms)
    events = _dated(run_dir, run_dir.load_events(problems), problems)
    exemplars = _load_lines(run_dir.exemplars_jsonl, Exemplar, problems, required=False)
    ledger = run_dir.ledger_jsonl
    writes = (
        sum(1 for line in ledger.read_text().splitlines() if line.strip()) if ledger.exists() else 0
    )
    return RunData(
        path=path,
        record=record,
        timeseries=timeseries,
        histograms=histograms,
        events=sorted(events, key=lambda e: e.t_s or 0.0),
        exemplars=exemplars,
        ledger_writes=writes,
        reconciliation=run_dir.load_reconciliation(problems),
        problems=problems,
        outcomes=run_dir.load_outcomes(problems),
    )


def _dated(run_dir: RunDir, events: list[Event], problems: list[str]) -> list[Event]:
    """Every event on the load's clock: one a run left without `t_s` (it ended before
    the times were filled in) gets it from its epoch; without the load's start, it is
    left out and named."""
    start = run_dir.load_start_epoch()
    dated: list[Event] = []
    for event in events:
        if event.t_s is not None:
            dated.append(event)
        elif start is not None:
            dated.append(event.with_t_s(start))
        else:
            problems.append(f"the {event.type} event at {event.wall} has no time since load start")
    return dated


def _load_record(path: Path, problems: list[str]) -> RunRecord | None:
    file = RunDir(path).run_json
    if not file.exists():
        problems.append("run.json is missing: this is not a complete run directory")
        return None
    try:
        record = RunRecord.model_validate_json(file.read_text())
    except ValidationError as exc:
        problems.append(f"run.json is invalid: {first_error(exc)}")
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
    file = RunDir(path).timeseries_csv
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


def _load_histograms(
    path: Path, problems: list[str], *, stream: bool
) -> dict[str, PerSecondHistograms]:
    folder = RunDir(path).histograms_dir
    index_file = folder / "index.json"
    if index_file.exists():
        files: dict[str, str] = json.loads(index_file.read_text())
    elif folder.is_dir():
        files = {p.stem: p.name for p in sorted(folder.glob("*.hlog"))}
    else:
        problems.append("histograms/ is missing: latency percentiles cannot be computed")
        return {}
    series: dict[str, PerSecondHistograms] = {}
    for endpoint, name in files.items():
        try:
            if stream:
                (folder / name).open().close()
                series[endpoint] = HistogramFile(folder / name, problems)
            else:
                series[endpoint] = read_hlog(folder / name)
        except DECODE_ERRORS as exc:
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
            problems.append(f"{file.name}:{number} is invalid: {first_error(exc)}")
    return items
