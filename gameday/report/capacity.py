"""capacity.html: the capacity search as one self-contained page (inline CSS
and SVG, no script, no URL), from `capacity.json`'s model alone.

    html = render_capacity_html(report)
"""

from __future__ import annotations

import jinja2

from gameday.load.capacity import CapacityReport
from gameday.report.charts import _figure, _svg

PERCENTILE_COLOURS = {"p50": "#1f77b4", "p95": "#ff7f0e", "p99": "#d62728"}

STOP_REASONS = {
    "objective_broke": "an objective broke; bisected to the resolution",
    "max_rate_met": "the maximum rate met every objective: capacity is at least that",
    "start_rate_failed": "the start rate already broke an objective: try a lower --start-rate",
    "generator_saturated": "the load generator saturated before the service (add --workers)",
    "max_steps": "out of steps before the resolution was reached",
}


def how_sure(report: CapacityReport) -> str:
    """One sentence: how many runs decided the capacity and the first failing rate, and
    how sure their majorities are."""
    by_rate = {r.rate_rps: r for r in report.rates}
    parts = []
    for rate, verb in ((report.capacity_rps, "held"), (report.first_failing_rps, "failed")):
        verdict = by_rate.get(rate) if rate is not None else None
        if verdict is not None:
            agreeing = verdict.passes if verdict.holds else verdict.runs - verdict.passes
            parts.append(
                f"{verdict.rate_rps:g} rps {verb} {agreeing} of {verdict.runs} run"
                f"{'s' if verdict.runs > 1 else ''} ({verdict.confidence:.0%} sure)"
            )
    sentence = "; ".join(parts) if parts else "no rate was judged"
    if not report.monotonic:
        sentence += "; verdicts were not monotonic in the rate: the noise between runs is "
        sentence += "as large as the step, so read the capacity as the interval"
    return sentence


def latency_vs_throughput(report: CapacityReport) -> str:
    """p50/p95/p99 against achieved requests per second, one point per step,
    failing steps hollow, the knee (the capacity step) marked."""
    fig, ax = _figure(1, 4.2)
    steps = sorted(report.steps, key=lambda s: s.achieved_rps)
    for name, colour in PERCENTILE_COLOURS.items():
        xs = [s.achieved_rps for s in steps]
        ys = [getattr(s, f"{name}_ms") for s in steps]
        ax.plot(xs, ys, color=colour, linewidth=1.2, label=name)
        for s, y in zip(steps, ys, strict=True):
            ax.plot(
                [s.achieved_rps],
                [y],
                marker="o",
                markersize=5,
                color=colour,
                markerfacecolor=colour if s.passed else "white",
            )
    knee = report.knee()
    if knee is not None:
        ax.axvline(knee.achieved_rps, color="#2ca02c", linestyle="--", linewidth=1.2)
        ax.annotate(
            f"knee: {knee.rate_rps:g} rps scheduled\n({knee.achieved_rps:.1f} achieved)",
            xy=(knee.achieved_rps, knee.p99_ms),
            xytext=(8, 8),
            textcoords="offset points",
            color="#2ca02c",
            fontsize=9,
        )
    ax.set_yscale("log")
    ax.set_xlabel("achieved throughput (requests/s)")
    ax.set_ylabel("latency (ms, log scale)")
    ax.legend(loc="upper left", fontsize=8)
    return _svg(fig)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gameday capacity · {{ r.scenario }}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 0 auto;
         max-width: 1100px; padding: 16px 24px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 18px; margin: 24px 0 8px; border-bottom: 1px solid #ddd; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { border-bottom: 1px solid #eee; padding: 3px 8px; text-align: left; }
  td.n, th.n { text-align: right; }
  .banner { padding: 14px 18px; border-radius: 6px; margin: 8px 0 12px; color: #fff;
            background: {{ "#1e7b34" if r.capacity_rps is not none else "#b3261e" }}; }
  .banner .big { font-size: 26px; font-weight: 700; }
  .ok { color: #1e7b34; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; }
  .how { background: #f5f7fa; border-left: 3px solid #8aa4c8; padding: 6px 10px; font-size: 13px; }
  svg { width: 100%; height: auto; }
  @media print { .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
</style>
</head>
<body>
<h1>gameday capacity · {{ r.scenario }}</h1>
<div class="banner" id="capacity">
  {% if r.capacity_rps is not none %}
  <div class="big">capacity {{ "at least " if r.lower_bound }}{{ r.capacity_rps|rate }} rps</div>
  <div>the highest scheduled rate that met every objective
  ({{ r.capacity_achieved_rps|rate }} requests/s achieved){% if r.first_failing_rps is not none %};
  {{ r.first_failing_rps|rate }} rps broke one{% endif %}.</div>
  {% else %}
  <div class="big">no passing rate</div>
  {% endif %}
  <div>stopped: {{ stop }}</div>
</div>
<h2 id="how-sure">How sure</h2>
<p>{% if r.capacity_rps is not none and r.first_failing_rps is not none %}The knee lies
between <b>{{ r.capacity_rps|rate }}</b> and <b>{{ r.first_failing_rps|rate }}</b> rps
scheduled. {% endif %}
{{ sure }}.</p>
<div class="how">Each step is one short sample, and near the knee two samples of the same rate
can disagree. The rates that decide the answer (the capacity and the first failing rate) are run
{{ r.repeats }} time{{ "s" if r.repeats > 1 }} (<code>--repeats</code>) and judged by majority.
"% sure" is one minus the chance that a rate exactly at the knee, passing half its runs like a
coin, would agree with itself that often: one run is 50%, 3 of 3 is 88%, 5 of 5 is 97%.</div>
<table>
<tr><th class="n">scheduled rps</th><th class="n">runs</th><th class="n">passed</th>
<th>majority</th><th class="n">sure</th><th class="n">p95 ms (min–max)</th></tr>
{% for v in r.rates %}
<tr><td class="n">{{ v.rate_rps|rate }}</td><td class="n">{{ v.runs }}</td>
<td class="n">{{ v.passes }}</td>
<td class="{{ 'ok' if v.holds else 'bad' }}">{{ "holds" if v.holds else "fails" }}</td>
<td class="n">{{ "%.0f"|format(100 * v.confidence) }}%</td>
<td class="n">{{ v.p95_min_ms|rate }}–{{ v.p95_max_ms|rate }}</td></tr>
{% endfor %}
</table>
<p>Target {{ r.target_url }} · SLO file {{ r.slo_source }} · rates {{ r.start_rps|rate }} to
{{ r.max_rps|rate }} rps, {{ r.step_duration_s|rate }} s per step, resolution
{{ r.resolution_pct|rate }}%.</p>
<h2>Latency against throughput</h2>
<figure>{{ chart|safe }}</figure>
<div class="how">How to read this: one point per step, at the throughput it achieved. Filled points
met every objective, hollow ones did not. Latency stays flat while the service keeps up and turns
up at the knee, where queues start to build; the dashed line marks the highest passing step.</div>
<h2>Steps</h2>
<table>
<tr><th>#</th><th>phase</th><th class="n">scheduled rps</th><th class="n">achieved rps</th>
<th class="n">requests</th><th class="n">errors %</th><th class="n">p50 ms</th>
<th class="n">p95 ms</th><th class="n">p99 ms</th><th>verdict</th><th>why</th><th>run</th></tr>
{% for s in r.steps %}
<tr><td>{{ s.index }}</td><td>{{ s.phase }}</td><td class="n">{{ s.rate_rps|rate }}</td>
<td class="n">{{ s.achieved_rps|rate }}</td><td class="n">{{ s.count }}</td>
<td class="n">{{ "%.2f"|format(s.error_rate_pct) }}</td><td class="n">{{ s.p50_ms|rate }}</td>
<td class="n">{{ s.p95_ms|rate }}</td><td class="n">{{ s.p99_ms|rate }}</td>
<td class="{{ 'ok' if s.passed else 'bad' }}">{{ s.verdict|upper }}</td>
<td>{{ (s.violated + s.reasons + s.generator_reasons)|join("; ") }}</td>
<td><code>{{ s.run_dir }}</code></td></tr>
{% endfor %}
</table>
<p>Each step is a full run directory with its own summary.json and junit.xml
(<code>gameday report STEP_DIR</code> renders its page).</p>
</body>
</html>
"""


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}".removesuffix(".0")


def render_capacity_html(report: CapacityReport) -> str:
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["rate"] = _rate
    chart = latency_vs_throughput(report) if report.steps else ""
    return env.from_string(_TEMPLATE).render(
        r=report, chart=chart, stop=STOP_REASONS[report.stopped_because], sure=how_sure(report)
    )
