"""`gameday report` and `gameday compare` as a user runs them: subprocesses
with their exit codes, and the page opened in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.unit.report.factories import (
    SEARCH,
    Sample,
    event,
    fault,
    make_run_dir,
    steady_samples,
)

ROOT = Path(__file__).resolve().parents[3]
GAMEDAY = [sys.executable, "-m", "gameday.cli"]
ARTIFACTS = ROOT / "test-artifacts"
BREAKER_OPEN = {"dependency": "opensearch", "severity": "critical"}


def _gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("ok"), samples=steady_samples(seconds=20, rps=20))


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    samples = [
        Sample(s.t_s, s.endpoint, s.latency_ms * 10, "fail_5xx", s.request_id)
        if 20 <= s.t_s < 40 and s.endpoint == SEARCH
        else s
        for s in steady_samples(seconds=70, rps=20)
    ]
    return make_run_dir(
        tmp_path_factory.mktemp("outage"),
        samples=samples,
        # a reference run watches the stack Prometheus's alerts (slo.yaml's detect_within)
        events=[
            event("alerts_watched", 0.5, source="http://127.0.0.1:29090", alerts=["BreakerOpen"]),
            *fault("opensearch-down", 20.0, 35.0),
            event("alert_firing", 32.0, alert="BreakerOpen", labels=BREAKER_OPEN),
            event("alert_resolved", 50.0, alert="BreakerOpen", labels=BREAKER_OPEN),
        ],
        reconciliation={
            "acknowledged": 5,
            "present": 4,
            "lost": 1,
            "lost_ids": ["doc-7"],
            "rpo_s": 1.5,
        },
    )


def test_report_exits_0_when_every_objective_holds(passing: Path) -> None:
    result = _gameday("report", str(passing), "--slo", str(ROOT / "slo.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("verdict PASS")
    assert (passing / "summary.json").exists() and (passing / "junit.xml").exists()


def test_report_exits_1_and_names_the_violated_objectives(outage: Path) -> None:
    result = _gameday("report", str(outage), "--slo", str(ROOT / "slo.yaml"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "violated: opensearch-down lost writes: 1 writes (target <= 0 writes)" in result.stdout


def test_report_exits_2_on_incomplete_data_and_still_writes_the_report(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path, samples=steady_samples(seconds=5, rps=10))
    shutil.rmtree(run_dir / "histograms")
    result = _gameday("report", str(run_dir))
    assert result.returncode == 2
    assert "error: histograms/ is missing" in result.stdout
    assert "histograms/ is missing" in (run_dir / "index.html").read_text()


def test_report_exits_2_with_one_line_on_an_invalid_slo_file(passing: Path, tmp_path: Path) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text("overall:\n  latency:\n    p59: 100ms\n")
    result = _gameday("report", str(passing), "--slo", str(slo))
    assert result.returncode == 2
    assert "slo.yaml:3: overall.latency.p59: unknown field" in result.stderr


def test_compare_exits_1_on_a_regression_and_0_against_itself(
    passing: Path, tmp_path: Path
) -> None:
    slower = make_run_dir(
        tmp_path,
        samples=[
            Sample(s.t_s, s.endpoint, s.latency_ms * 1.5, s.kind, s.request_id)
            for s in steady_samples(seconds=20, rps=20, seed=9)
        ],
        name="slower",
    )
    regressed = _gameday("compare", str(passing), str(slower), "--resamples", "50")
    assert regressed.returncode == 1, regressed.stdout + regressed.stderr
    assert "regression: ALL p95_ms" in regressed.stdout
    html = (slower / "compare" / "compare.html").read_text()
    assert "REGRESSION" in html and "<svg" in html
    same = _gameday(
        "compare", str(passing), str(passing), "--resamples", "20", "--out", str(tmp_path / "same")
    )
    assert same.returncode == 0, same.stdout + same.stderr


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None:
        return None
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium"],
        capture_output=True,
        timeout=600,
        check=False,
    )
    return shutil.which("chromium")


def test_the_page_is_self_contained_and_renders_in_headless_chromium(outage: Path) -> None:
    assert _gameday("report", str(outage)).returncode == 1
    page = outage / "index.html"
    html = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", html, re.I)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert html.count("<svg") >= 4
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium is not installed and apt-get could not install it")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    profile = tempfile.mkdtemp()
    try:
        result = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--screenshot={shot}",
                "--window-size=1280,4000",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert shot.exists(), result.stderr
    assert shot.stat().st_size > 50_000  # a blank 1280x4000 PNG is a few kB


def test_the_page_makes_no_network_request_and_logs_no_console_error(outage: Path) -> None:
    from playwright.sync_api import ConsoleMessage, Request, sync_playwright

    assert _gameday("report", str(outage)).returncode == 1
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium is not installed and apt-get could not install it")
    uri = (outage / "index.html").as_uri()
    requested: list[str] = []
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            errors.append(f"{message.type}: {message.text}")

    def on_request(request: Request) -> None:
        requested.append(request.url)

    with sync_playwright() as playwright:
        # Debian's chromium; Playwright's own browser download is never used.
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1600})
            context.on("request", on_request)
            context.on("console", on_console)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.goto(uri, wait_until="networkidle")
            verdict = page.locator("#verdict")
            assert verdict.is_visible()
            assert verdict.inner_text().startswith("FAIL")
            assert page.get_by_text("opensearch-down lost writes").first.is_visible()
            assert page.locator("svg").count() >= 4
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-playwright.png"), full_page=True)
        finally:
            browser.close()
    assert requested == [uri]  # the page itself, nothing else
    assert errors == []


BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
