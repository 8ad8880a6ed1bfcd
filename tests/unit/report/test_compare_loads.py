"""gameday compare of runs that did not run the same load (issue 14): a
read_only run at 100 rps against one at 160 rps is compared, but with a warning
naming the difference in the comparison, compare.json and the page; strict
comparison refuses it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from factories import make_run_dir, steady_samples

from gameday.errors import ConfigError
from gameday.report import load_run
from gameday.report.compare import LOAD_FIELDS, DifferentLoads, compare_runs
from gameday.report.compare_page import write_comparison
from gameday.rundir import RunRecord
from gameday.slo import Regression


def _run(tmp_path: Path, name: str, **facts: Any) -> Path:
    """A run directory of 100 rps read_only load, its run.json facts overridden."""
    run_dir = make_run_dir(
        tmp_path,
        samples=steady_samples(seconds=12, rps=20, seed=4),
        target_rps=100.0,
        name=name,
    )
    record = json.loads((run_dir / "run.json").read_text())
    record |= {"scenario": "read_only", "shape": "constant-rate", "users": None, **facts}
    (run_dir / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    return run_dir


def _compare(base: Path, candidate: Path, *, strict: bool = False):  # type: ignore[no-untyped-def]
    return compare_runs(
        load_run(base), load_run(candidate), Regression(), seed=1, resamples=20, strict=strict
    )


def test_runs_of_the_same_load_carry_no_warning(tmp_path: Path) -> None:
    comparison = _compare(_run(tmp_path, "base"), _run(tmp_path, "candidate"))
    assert comparison.load_differences == []
    assert comparison.warnings == []


def test_runs_at_100_and_160_rps_are_compared_with_a_warning_naming_the_rates(
    tmp_path: Path,
) -> None:
    base = _run(tmp_path, "base")
    candidate = _run(tmp_path, "candidate", target_rps=160.0)
    comparison = _compare(base, candidate)
    assert [(d.field, d.label, d.base, d.candidate) for d in comparison.load_differences] == [
        ("target_rps", "rate", 100.0, 160.0)
    ]
    assert comparison.warnings == [
        "the runs ran different loads (rate 100 rps vs 160 rps): the deltas mix the "
        "candidate's change with the change of load; compare runs of the same load"
    ]
    # the samples are the same: the warning is about the load, not the verdict
    assert comparison.verdict == "pass"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("scenario", "write_heavy", "scenario read_only vs write_heavy"),
        ("target_rps", 160.0, "rate 100 rps vs 160 rps"),
        ("users", 50, "users none vs 50"),
        ("shape", "ramp", "shape constant-rate vs ramp"),
        ("duration_s", 300.0, "duration 12 s vs 300 s"),
        ("target_url", "http://127.0.0.1:22080", "target URL http://127.0.0.1:28080 vs http"),
    ],
    ids=["scenario", "rate", "users", "shape", "duration", "target"],
)
def test_each_load_fact_that_differs_is_named(
    tmp_path: Path, field: str, value: Any, words: str
) -> None:
    comparison = _compare(_run(tmp_path, "base"), _run(tmp_path, "candidate", **{field: value}))
    assert [d.field for d in comparison.load_differences] == [field]
    assert words in comparison.warnings[0]


def test_strict_refuses_runs_of_different_loads_naming_the_difference_and_the_fix(
    tmp_path: Path,
) -> None:
    base = _run(tmp_path, "base")
    candidate = _run(tmp_path, "candidate", target_rps=160.0, scenario="write_heavy")
    with pytest.raises(DifferentLoads) as raised:
        _compare(base, candidate, strict=True)
    assert isinstance(raised.value, ConfigError)  # the CLI's one-line error, exit 2
    assert str(raised.value) == (
        "the runs ran different loads (scenario read_only vs write_heavy, rate 100 rps vs "
        "160 rps): compare runs of the same load, or drop --strict"
    )
    assert "\n" not in str(raised.value)


def test_strict_compares_runs_of_the_same_load(tmp_path: Path) -> None:
    comparison = _compare(_run(tmp_path, "base"), _run(tmp_path, "candidate"), strict=True)
    assert comparison.verdict == "pass"


def test_compare_json_and_the_page_carry_the_warning(tmp_path: Path) -> None:
    base = _run(tmp_path, "base")
    candidate = _run(tmp_path, "candidate", target_rps=160.0)
    out = tmp_path / "out"
    write_comparison(base, candidate, out=out, resamples=20)
    written = json.loads((out / "compare.json").read_text())
    assert written["load_differences"] == [
        {"field": "target_rps", "label": "rate", "base": 100.0, "candidate": 160.0}
    ]
    assert "rate 100 rps vs 160 rps" in written["warnings"][0]
    page = (out / "compare.html").read_text()
    assert 'id="load-differences"' in page
    assert "the runs ran different loads" in page
    assert "<td>rate (target_rps)</td><td>100.0</td><td>160.0</td>" in page


def test_the_page_of_runs_of_the_same_load_has_no_warning(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_comparison(_run(tmp_path, "base"), _run(tmp_path, "candidate"), out=out, resamples=20)
    assert 'id="load-differences"' not in (out / "compare.html").read_text()


def test_strict_writes_nothing_for_runs_of_different_loads(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(DifferentLoads):
        write_comparison(
            _run(tmp_path, "base"),
            _run(tmp_path, "candidate", shape="ramp"),
            out=out,
            resamples=20,
            strict=True,
        )
    assert not out.exists()


def test_every_load_fact_is_a_run_record_field() -> None:
    # a renamed run.json field would otherwise make every comparison silently "same load"
    assert set(LOAD_FIELDS) <= set(RunRecord.model_fields)
