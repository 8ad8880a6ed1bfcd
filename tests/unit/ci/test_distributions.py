"""Two distributions: the harness (the root pyproject.toml, package `gameday`) installs
without the reference service (service/pyproject.toml), `gameday --help` runs where
`service` is not importable, and the import contracts in pyproject.toml (gameday never
imports service, service never imports gameday) hold, with no exceptions listed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SERVICE_ONLY = ("fastapi", "uvicorn", "opensearch-py", "pyjwt", "opentelemetry-", "cachetools")


@pytest.fixture(scope="module")
def harness_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harness's wheel, built from a copy of the sources (service/ included, so the
    wheel leaves it out on purpose, not for want of it)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("gameday", "service", "scenarios"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["--disable-pip-version-check", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob("gameday-*.whl")
    return wheel


def test_the_harness_wheel_has_gameday_and_no_service(harness_wheel: Path) -> None:
    names = zipfile.ZipFile(harness_wheel).namelist()
    assert "gameday/cli/__init__.py" in names and "gameday/py.typed" in names
    tops = {name.split("/")[0] for name in names if not name.endswith(".dist-info/RECORD")}
    assert [t for t in tops if not t.startswith("gameday")] == []
    assert not [n for n in names if n.startswith("service/")]


def test_the_harness_wheel_requires_none_of_the_services_own_libraries(
    harness_wheel: Path,
) -> None:
    archive = zipfile.ZipFile(harness_wheel)
    metadata = archive.read(next(n for n in archive.namelist() if n.endswith("METADATA")))
    requires = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)", metadata.decode(), re.M)
    assert "locust" in requires
    assert [r for r in requires if r.lower().startswith(SERVICE_ONLY)] == []


def test_gameday_help_runs_from_the_wheel_alone_without_the_service(
    harness_wheel: Path, tmp_path: Path
) -> None:
    """A fresh venv holding the harness's wheel; the third-party libraries come from this
    venv's site-packages by path (its editable installs of gameday and service are .pth
    finders, which a path entry does not run)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    ours = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    (site / "third_party.pth").write_text(ours + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
        + ["--no-index", "--disable-pip-version-check", str(harness_wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('service'))"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert probe.stdout.strip() == "None", "the service is importable in the fresh venv"
    done = subprocess.run(
        [str(venv / "bin" / "gameday"), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage" in done.stdout and "run" in done.stdout


def _pins(path: Path) -> dict[str, str]:
    """name -> version specifier, e.g. "uvicorn" -> "==0.54.0"."""
    pins = {}
    for requirement in tomllib.loads(path.read_text())["project"]["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)", requirement)
        assert match, requirement
        pins[match.group(1).lower()] = match.group(3)
    return pins


def test_a_pin_the_harness_and_the_service_share_is_the_same_in_both() -> None:
    harness, service = _pins(ROOT / "pyproject.toml"), _pins(ROOT / "service" / "pyproject.toml")
    shared = sorted(set(harness) & set(service))
    assert "pydantic" in shared
    assert {n: (harness[n], service[n]) for n in shared if harness[n] != service[n]} == {}


def test_the_service_distribution_lists_every_package_of_the_service() -> None:
    config = tomllib.loads((ROOT / "service" / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(("service", *p.parent.relative_to(ROOT / "service").parts))
        for p in (ROOT / "service").rglob("__init__.py")
        if "build" not in p.parts
    }
    assert listed == found


def test_the_import_contracts_between_harness_and_service_hold_without_exceptions() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    one_way = {
        c["name"]: c
        for c in contracts["contracts"]
        if c["name"].startswith(("gameday ", "service "))
    }
    assert sorted((c["source_modules"], c["forbidden_modules"]) for c in one_way.values()) == [
        (["gameday"], ["service"]),
        (["service"], ["gameday"]),
    ]
    assert all("ignore_imports" not in c for c in one_way.values())
    done = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    for name in one_way:
        kept = re.sub(r"\s+", " ", done.stdout)
        assert f"{name} KEPT" in kept, name
