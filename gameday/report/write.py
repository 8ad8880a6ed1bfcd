"""Writing a report: run directory (+ SLO file) -> summary.json, junit.xml,
index.html, and for a run with experiments suite.json (a view of the summary's
resilience score). The evidence is written before the verdict decides an exit code.

    summary = write_report(Path("reports/run-1"))
    summary.verdict     # pass / fail / error
"""

from __future__ import annotations

import json
from pathlib import Path

from gameday.report.build import build_summary
from gameday.report.html import render_html
from gameday.report.junit import render_junit
from gameday.report.rundata import load_run
from gameday.report.summary import Summary
from gameday.slo.loader import load_slo
from gameday.slo.model import SloFile

DEFAULT_SLO = Path("slo.yaml")


def resolve_slo(run_dir: Path, explicit: Path | None) -> tuple[SloFile, str]:
    """--slo FILE, else the copy in the run directory, else ./slo.yaml, else
    the built-in defaults. An invalid file raises SloFileError."""
    for candidate in (explicit, run_dir / "slo.yaml", DEFAULT_SLO):
        if candidate is not None and (candidate == explicit or candidate.exists()):
            return load_slo(candidate), str(candidate)
    return SloFile(), "built-in defaults"


def write_report(
    run_dir: Path, *, slo_path: Path | None = None, out: Path | None = None
) -> Summary:
    slo, source = resolve_slo(run_dir, slo_path)
    run = load_run(run_dir, stream_histograms=True)
    summary = build_summary(run, slo, slo_source=source)
    target = out or run_dir
    target.mkdir(parents=True, exist_ok=True)
    (target / "summary.json").write_text(summary.to_json())
    (target / "junit.xml").write_text(render_junit(summary))
    (target / "index.html").write_text(render_html(summary, run, slo))
    if summary.resilience is not None:
        (target / "suite.json").write_text(suite_view(summary))
    return summary


def suite_view(summary: Summary) -> str:
    """suite.json: the summary's resilience score, titled by what the run ran."""
    assert summary.resilience is not None
    view = {"title": summary.run.experiment or "", **summary.resilience.model_dump(mode="json")}
    return json.dumps(view, indent=2) + "\n"
