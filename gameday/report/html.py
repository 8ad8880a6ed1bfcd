"""index.html: one self-contained page (inline CSS, inline SVG charts, no
script, no network) rendered by Jinja2 from the `Summary` and the run data.

    html = render_html(summary, run)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import jinja2

from gameday.report import charts, hdr
from gameday.report.build import run_windows
from gameday.report.figures import run_end_s
from gameday.report.rundata import ALL, RunData
from gameday.report.summary import Summary
from gameday.rundir import Exemplar
from gameday.slo.model import SloFile

EXEMPLARS_PER_ENDPOINT = 5


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gameday.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    return env


def _num(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def slowest_exemplars(run: RunData) -> dict[str, list[Exemplar]]:
    by_endpoint: dict[str, list[Exemplar]] = {}
    for exemplar in run.exemplars:
        by_endpoint.setdefault(exemplar.endpoint, []).append(exemplar)
    return {
        ep: sorted(items, key=lambda e: -e.latency_ms)[:EXEMPLARS_PER_ENDPOINT]
        for ep, items in sorted(by_endpoint.items())
    }


def status_counts(run: RunData) -> dict[str, int]:
    """Failed statuses among the recorded exemplars (a sample, not every request)."""
    counted = Counter(
        str(e.status) for e in run.exemplars if e.status is not None and e.status >= 400
    )
    return dict(sorted(counted.items()))


def chart_context(summary: Summary, run: RunData, slo: SloFile) -> dict[str, Any]:
    every_second = run.per_second()
    if every_second.empty:
        return {}
    end_s = float(run_end_s(run))
    events = run.events
    windows = run_windows(run, end_s=end_s)
    step = charts.step_s(every_second)
    per_second = charts.thin(every_second, step)
    out: dict[str, Any] = {
        "step_s": step,
        "traffic": charts.traffic(per_second, windows=windows, events=events, end_s=end_s),
        "latency": charts.latency(
            per_second,
            windows=windows,
            end_s=end_s,
            thresholds_ms=slo.overall.latency.thresholds_ms(),
        ),
        "budget": charts.error_budget(
            every_second,
            budget_fraction=summary.error_budget.budget_fraction,
            windows=windows,
            end_s=end_s,
        ),
    }
    curves = {}
    for endpoint in [ALL, *run.endpoints]:
        series = run.histograms.get(endpoint)
        if series is not None:
            curves["all endpoints" if endpoint == ALL else endpoint] = hdr.spectrum_ms(
                series.merged()
            )
    out["spectrum"] = charts.spectrum(curves)
    if "cache_hit_ratio" in per_second.columns:
        out["cache"] = charts.series(
            per_second, "cache_hit_ratio", ylabel="cache hit ratio", windows=windows, end_s=end_s
        )
    timelines = {}
    for window, experiment in zip(windows, summary.experiments, strict=True):
        breaker = experiment.breaker
        marks = {
            "impact": experiment.breach_start_s,
            "breaker open": (
                window.injected_s + breaker.opened_after_s
                if breaker and breaker.opened_after_s is not None
                else None
            ),
            "fault removed": window.removed_s,
            "breaker closed": (
                window.removed_s + breaker.closed_after_s
                if breaker and breaker.closed_after_s is not None and window.removed_s is not None
                else None
            ),
            "recovered": experiment.recovered_at_s,
        }
        timelines[experiment.name] = charts.experiment_timeline(
            every_second, window=window, marks=marks, end_s=end_s
        )
    out["timelines"] = timelines
    return out


def render_html(summary: Summary, run: RunData, slo: SloFile) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(
        s=summary,
        charts=chart_context(summary, run, slo),
        exemplars=slowest_exemplars(run),
        statuses=status_counts(run),
        slo=slo,
    )
