"""The suite runs in random module order (pytest-randomly plus tests/random_order.py),
each module's tests in the order they are written, with the seed printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Written out of alphabetical order: the order kept must be the written one.
WRITTEN = ["test_c", "test_a", "test_e", "test_b", "test_d"]
MODULES = [f"test_m{i}" for i in range(6)]
SEEDS = [1, 2, 3]


def test_this_session_runs_with_pytest_randomly(pytestconfig: pytest.Config) -> None:
    if pytestconfig.pluginmanager.is_blocked("randomly"):
        pytest.skip("switched off with -p no:randomly")
    assert pytestconfig.pluginmanager.hasplugin("randomly"), "pytest-randomly is not installed"
    assert pytestconfig.pluginmanager.hasplugin("tests.random_order")
    assert isinstance(pytestconfig.getoption("randomly_seed"), int)


def _project(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    for module in MODULES:
        body = "".join(f"def {name}() -> None:\n    pass\n\n\n" for name in WRITTEN)
        (tmp_path / f"{module}.py").write_text(body)
    return tmp_path


def _run(project: Path, seed: int, *plugins: str) -> tuple[list[tuple[str, str]], str]:
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    args = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"]
    for plugin in plugins:
        args += ["-p", plugin]
    result = subprocess.run(
        [*args, f"--randomly-seed={seed}"],
        cwd=project,
        # only the plugins named (faster, and none of the suite's other plugins)
        env={**os.environ, "PYTHONPATH": pythonpath, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ran = re.findall(r"^(test_m\d)\.py::(test_\w) PASSED", result.stdout, re.MULTILINE)
    assert len(ran) == len(MODULES) * len(WRITTEN), result.stdout
    return ran, result.stdout


def _modules(ran: list[tuple[str, str]]) -> list[str]:
    order: list[str] = []
    for module, _ in ran:
        if not order or order[-1] != module:
            order.append(module)
    return order


def test_modules_run_in_an_order_set_by_the_seed_each_module_in_its_written_order(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    orders = []
    for seed in SEEDS:
        ran, output = _run(project, seed, "randomly", "tests.random_order")
        modules = _modules(ran)
        assert sorted(modules) == MODULES, "a module's tests were split up"
        for module in modules:
            assert [name for m, name in ran if m == module] == WRITTEN, module
        assert f"Using --randomly-seed={seed}" in output.splitlines()[:5]
        assert f"rerun this order with --randomly-seed={seed}" in output
        orders.append(modules)
    assert len({tuple(order) for order in orders}) == len(SEEDS), "the seed sets no order"
    again, _ = _run(project, SEEDS[0], "randomly", "tests.random_order")
    assert _modules(again) == orders[0], "the same seed gave another order"


def test_without_the_plugin_pytest_randomly_would_shuffle_inside_modules(
    tmp_path: Path,
) -> None:
    """What tests/random_order.py undoes: the check above would fail without it."""
    ran, _ = _run(_project(tmp_path), SEEDS[0], "randomly")
    assert any([name for m, name in ran if m == module] != WRITTEN for module in MODULES)
