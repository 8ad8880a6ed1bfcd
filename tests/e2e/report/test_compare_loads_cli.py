"""`gameday compare` of runs that ran different loads, as a user runs it: a
subprocess on run directories built from files (no stack). Without --strict it
compares and warns in the output, compare.json and the page; with --strict (or
GAMEDAY_COMPARE_STRICT) it refuses with one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.report.factories import make_run_dir, steady_samples

ROOT = Path(__file__).resolve().parents[3]
WARNING = "warning: the runs ran different loads (rate 100 rps vs 160 rps)"
REFUSAL = (
    "error: the runs ran different loads (rate 100 rps vs 160 rps): "
    "compare runs of the same load, or drop --strict"
)


def _gameday(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GAMEDAY_")}
    return subprocess.run(
        [sys.executable, "-m", "gameday.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**clean, "COLUMNS": "400", **(env or {})},
    )


def _run(folder: Path, name: str, rate_rps: float) -> Path:
    run_dir = make_run_dir(
        folder, samples=steady_samples(seconds=12, rps=20, seed=4), target_rps=100.0, name=name
    )
    record = json.loads((run_dir / "run.json").read_text())
    record |= {"scenario": "read_only", "target_rps": rate_rps}
    (run_dir / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("loads")
    return _run(folder, "at-100", 100.0), _run(folder, "at-160", 160.0)


def test_compare_of_different_rates_warns_in_output_json_and_page(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    base, candidate = runs
    out = tmp_path / "cmp"
    result = _gameday("compare", str(base), str(candidate), "--resamples", "20", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("PASS")
    assert lines[1].strip().startswith(WARNING), result.stdout
    written = json.loads((out / "compare.json").read_text())
    assert [d["field"] for d in written["load_differences"]] == ["target_rps"]
    assert 'id="load-differences"' in (out / "compare.html").read_text()


def test_compare_of_the_same_load_says_nothing_about_loads(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    base, _ = runs
    out = tmp_path / "cmp"
    result = _gameday(
        "compare", str(base), str(base), "--resamples", "20", "--out", str(out), "--strict"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "different loads" not in result.stdout
    assert json.loads((out / "compare.json").read_text())["load_differences"] == []


def test_strict_refuses_different_rates_with_one_line_and_exit_2(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    base, candidate = runs
    out = tmp_path / "cmp"
    result = _gameday(
        "compare", str(base), str(candidate), "--resamples", "20", "--out", str(out), "--strict"
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == REFUSAL
    assert not out.exists()


def test_strict_can_come_from_the_environment(runs: tuple[Path, Path], tmp_path: Path) -> None:
    base, candidate = runs
    result = _gameday(
        "compare",
        str(base),
        str(candidate),
        "--resamples",
        "20",
        "--out",
        str(tmp_path / "cmp"),
        env={"GAMEDAY_COMPARE_STRICT": "1"},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == REFUSAL
