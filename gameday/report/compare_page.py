"""Writing a comparison: compare.json and compare.html (both HDR percentile
spectra on one chart, the delta table with confidence intervals).

    comparison = write_comparison(base_dir, candidate_dir, out=Path("compare"))
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from gameday.report import charts, hdr
from gameday.report.compare import DEFAULT_RESAMPLES, Comparison, compare_runs
from gameday.report.rundata import ALL, load_run
from gameday.report.write import resolve_slo


def write_comparison(
    base_dir: Path,
    candidate_dir: Path,
    *,
    out: Path,
    slo_path: Path | None = None,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    strict: bool = False,
) -> Comparison:
    """With `strict`, runs of different loads raise DifferentLoads before anything is written."""
    slo, _ = resolve_slo(candidate_dir, slo_path)
    base, candidate = load_run(base_dir), load_run(candidate_dir)
    comparison = compare_runs(
        base, candidate, slo.regression, seed=seed, resamples=resamples, strict=strict
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(comparison.model_dump_json(indent=2) + "\n")
    curves = {}
    for label, run in (("base " + base.run_id, base), ("candidate " + candidate.run_id, candidate)):
        if ALL in run.histograms:
            curves[label] = hdr.spectrum_ms(run.histograms[ALL].merged())
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gameday.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    page = env.get_template("compare.html.j2").render(
        c=comparison, spectrum=charts.spectrum(curves) if curves else ""
    )
    (out / "compare.html").write_text(page)
    return comparison
