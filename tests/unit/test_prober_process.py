"""The prober process against a small HTTP server of the test's own (no stack): what it
sends, what it records for each kind of answer, how it stops and how it refuses bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

PROBER = Path(__file__).resolve().parents[1] / "integration" / "prober.py"


class Target(ThreadingHTTPServer):
    daemon_threads = True
    mode = "ok"  # ok, degraded, refuse, hang
    seen: list[dict[str, str]]


class Handler(BaseHTTPRequestHandler):
    server: Target

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.server.seen.append({"path": self.path, **dict(self.headers)})
        mode = self.server.mode
        if mode == "hang":
            time.sleep(1.0)  # longer than the prober's timeout: the server's behaviour
        status = 503 if mode == "refuse" else 200
        self.send_response(status)
        if mode == "degraded":
            self.send_header("X-Degraded", "stale-cache")
        if mode == "refuse":
            self.send_header("Retry-After", "27")
        body = b"{}"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target(("127.0.0.1", 0), Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def wait_for(path: Path, condition: Callable[[dict[str, Any]], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(condition(r) for r in records(path)):
            return
        time.sleep(0.05)
    raise AssertionError(f"no record of {what} within 10 s: {records(path)[-3:]}")


def test_the_prober_records_every_kind_of_answer_and_stops_on_sigterm(
    target: Target, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("tok-123\n")
    out = tmp_path / "probes.jsonl"
    port = target.server_address[1]
    proc = subprocess.Popen(
        [sys.executable, str(PROBER), "--url", f"http://127.0.0.1:{port}",
         "--token-file", str(tmp_path / "token"), "--out", str(out),
         "--interval", "0.05", "--timeout", "0.5", "--query", "fixed one"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(out, lambda r: r["status"] == 200 and r["degraded"] is None, "a 200")
        target.mode = "degraded"
        wait_for(out, lambda r: r["degraded"] == "stale-cache", "an X-Degraded answer")
        target.mode = "refuse"
        wait_for(out, lambda r: r["status"] == 503 and r["retry_after"] == "27", "a 503")
        target.mode = "hang"
        wait_for(out, lambda r: r["error"] == "timeout", "a timeout")
        target.shutdown()
        target.server_close()
        wait_for(out, lambda r: r["error"] == "connection", "a refused connection")
        proc.terminate()
        _, stderr = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    rows = records(out)
    timeout = next(r for r in rows if r["error"] == "timeout")
    assert timeout["status"] is None and 450 <= timeout["latency_ms"] < 1000
    assert {r["kind"] for r in rows} == {"fixed", "uncached"}
    assert {r["q"] for r in rows if r["kind"] == "fixed"} == {"fixed one"}
    uncached = [r["q"] for r in rows if r["kind"] == "uncached"]
    assert len(set(uncached)) == len(uncached)  # never the same one twice
    sent = sorted(r["t"] for r in rows)
    # requests that hang (1 s, past the 0.5 s timeout) never hold up the next one
    assert max(b - a for a, b in zip(sent, sent[1:], strict=False)) < 0.3
    first = target.seen[0]
    assert first["Authorization"] == "Bearer tok-123"
    assert first["path"] == "/v1/search?q=fixed+one"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ftp://x", "--token-file", "{token}"], "--url must be http://HOST:PORT"),
        (["--url", "http://127.0.0.1:1", "--token-file", "{missing}"], "cannot read --token-file"),
        (["--url", "http://127.0.0.1:1", "--token-file", "{empty}"], "is empty"),
        (
            ["--url", "http://127.0.0.1:1", "--token-file", "{token}", "--interval", "0"],
            "must be positive",
        ),
    ],
    ids=["bad-url", "missing-token", "empty-token", "zero-interval"],
)
def test_bad_input_is_one_line_naming_the_problem_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "token").write_text("tok")
    (tmp_path / "empty").write_text("\n")
    paths = {k: str(tmp_path / k) for k in ("token", "missing", "empty")}
    argv = [a.format(**paths) for a in args] + ["--out", str(tmp_path / "p.jsonl")]
    result = subprocess.run(
        [sys.executable, str(PROBER), *argv], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "p.jsonl").exists()


def test_fixed_queries_only_take_turns_and_the_prober_stops_after_its_duration(
    target: Target, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("tok")
    out = tmp_path / "probes.jsonl"
    port = target.server_address[1]
    result = subprocess.run(
        [sys.executable, str(PROBER), "--url", f"http://127.0.0.1:{port}",
         "--token-file", str(tmp_path / "token"), "--out", str(out), "--interval", "0.1",
         "--duration", "1", "--no-uncached", "--query", "a", "--query", "b"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = sorted(records(out), key=lambda r: r["t"])
    assert 8 <= len(rows) <= 12
    assert {r["kind"] for r in rows} == {"fixed"}
    assert [r["q"] for r in rows[:4]] == ["a", "b", "a", "b"]
