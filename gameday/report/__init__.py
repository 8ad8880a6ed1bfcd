"""The report: a pure function of a run directory (docs/run-data.md) and an
SLO file, written as summary.json, junit.xml and a self-contained index.html."""

from gameday.report.build import build_summary
from gameday.report.rundata import RunData, load_run
from gameday.report.summary import Summary, render_summary_schema, summary_json_schema
from gameday.report.write import resolve_slo, write_report

__all__ = [
    "RunData",
    "Summary",
    "build_summary",
    "load_run",
    "render_summary_schema",
    "resolve_slo",
    "summary_json_schema",
    "write_report",
]
