"""Any Locust file gets the whole harness: a FOREIGN Locust file (ordinary HttpUser and
FastHttpUser classes, nothing of gameday's but `gameday.ledger`) run through the engine
against the cheap target, which records what it was sent. No stack needed."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday import histograms
from gameday.load.config import LoadConfig
from gameday.load.engine import RunFailed, run_load
from tests.integration.load.cheap_target import serving

FOREIGN = """
import uuid

from locust import FastHttpUser, HttpUser, constant, task

import gameday.ledger


class Browser(HttpUser):
    wait_time = constant(0.2)

    @task(3)
    def look(self):
        self.client.get("/items", headers={"X-Request-ID": uuid.uuid4().hex})

    @task
    def other(self):
        self.client.get("/other", headers={"X-Request-ID": uuid.uuid4().hex})


class Buyer(FastHttpUser):
    wait_time = constant(0.2)

    @task
    def buy(self):
        request_id = uuid.uuid4().hex
        response = self.client.post(
            "/orders", json={"item": 1}, headers={"X-Request-ID": request_id}
        )
        if response.status_code == 200:
            gameday.ledger.acknowledged(id=request_id, tenant="acme", request_id=request_id)


class NotInTheMix(HttpUser):
    @task
    def never(self):
        self.client.get("/never")
"""
# A file that uses gameday's one open-model marker, @arrival.
SESSIONS = """
from locust import HttpUser, task

from gameday.plugin import arrival


class Shopper(HttpUser):
    # a closed-model session of three pages; an open-model arrival is one page

    def on_start(self):
        self.client.get("/login")

    @task
    def session(self):
        for page in range(3):
            self.client.get(f"/session/{page}", name="/session")

    @arrival
    def one_page(self):
        self.client.get("/arrival")
"""
# An arrival that lets a gevent.Timeout out (a BaseException, not an Exception).
TIMED_OUT = """
import gevent
from locust import HttpUser, task


class Impatient(HttpUser):
    @task
    def one(self):
        self.client.get("/impatient")
        raise gevent.Timeout(0.01)
"""
MARK = {"X-Gameday-Test": "foreign"}  # LoadConfig.headers: the plugin adds it everywhere


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    path = tmp_path / "shop_locustfile.py"
    path.write_text(FOREIGN)
    return path


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    return tmp_path / "sent.jsonl"


@pytest.fixture
def target(recorded: Path) -> Iterator[str]:
    with serving("--record", str(recorded)) as url:
        yield url


def _run(out: Path, foreign: Path, url: str, **fields: Any) -> LoadConfig:
    fields.setdefault("mix", {"Browser": 3, "Buyer": 1})
    fields.setdefault("locustfiles", [str(foreign)])
    fields.setdefault("duration_s", 5)
    config = LoadConfig(
        scenario="shop",
        headers=MARK,
        target_url=url,
        run_dir=str(out),
        **fields,
    )
    (out / "locust").mkdir(parents=True)
    record = run_load(config, out, on_tick=lambda _: None)
    assert record.status == "completed", (out / "locust").iterdir()
    return config


def _sent(recorded: Path) -> list[dict[str, str]]:
    """What the target received: the request line and the headers (lower-cased names)."""
    requests = []
    for line in recorded.read_text().splitlines():
        head = json.loads(line).split("\r\n")
        headers = dict(h.split(": ", 1) for h in head[1:] if ": " in h)
        requests.append({"line": head[0], **{k.lower(): v for k, v in headers.items()}})
    return requests


def _per_second(out: Path) -> dict[tuple[int, str], int]:
    with open(out / "timeseries.csv") as f:
        return {(int(r["second"]), r["endpoint"]): int(r["requests"]) for r in csv.DictReader(f)}


def _hlog_counts(out: Path, name: str) -> list[int]:
    lines = (out / "histograms" / name).read_text().splitlines()
    return [
        histograms.decode(line.split(",")[3]).get_total_count()
        for line in lines
        if line[:1].isdigit()
    ]


def test_an_open_model_run_of_a_foreign_file_sends_exactly_the_planned_arrivals(
    tmp_path: Path, foreign: Path, target: str, recorded: Path
) -> None:
    out = tmp_path / "run"
    _run(out, foreign, target, shape="constant-rate", target_rps=40)
    sent = _sent(recorded)
    # exactly rate x duration arrivals, one request each, every one recorded
    assert len(sent) == 40 * 5
    generator = json.loads((out / "generator.json").read_text())
    assert generator["total_requests"] == 200 and generator["achieved_over_target"] == 1.0
    per_second = _per_second(out)
    assert sum(n for (_, endpoint), n in per_second.items() if endpoint == "ALL") == 200
    # the per-second histograms hold every request, second by second
    all_seconds = [n for (_, endpoint), n in sorted(per_second.items()) if endpoint == "ALL" and n]
    assert _hlog_counts(out, "ALL.hlog") == all_seconds
    # only the mix's classes, by their weights (3:1 over 200 arrivals), their own tasks
    lines = [r["line"].split()[1] for r in sent]
    assert "/never" not in lines
    orders = lines.count("/orders")
    assert 30 <= orders <= 70, orders
    assert lines.count("/items") > lines.count("/other") > 0
    # the run's headers on every request, from both clients
    assert all(r.get("x-gameday-test") == "foreign" for r in sent)
    # exemplars name the request ids the file sent as X-Request-ID
    sent_ids = {r["x-request-id"] for r in sent}
    exemplars = [json.loads(line) for line in (out / "exemplars.jsonl").read_text().splitlines()]
    assert exemplars and all(e["request_id"] in sent_ids for e in exemplars)
    # the ledger: exactly the acknowledged orders, by the ids the target saw
    ledger = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    order_ids = {r["x-request-id"] for r in sent if r["line"].startswith("POST /orders")}
    assert {e["id"] for e in ledger} == order_ids and len(ledger) == orders
    assert all(e["tenant"] == "acme" and e["version"] == 1 for e in ledger)


def test_a_closed_model_run_on_two_workers_merges_a_foreign_file_exactly(
    tmp_path: Path, foreign: Path, target: str, recorded: Path
) -> None:
    out = tmp_path / "run"
    _run(out, foreign, target, shape="steady", users=4, workers=2)
    sent = _sent(recorded)
    generator = json.loads((out / "generator.json").read_text())
    assert len(generator["worker_request_totals"]) == 2
    merged = sum(n for (_, endpoint), n in _per_second(out).items() if endpoint == "ALL")
    assert merged == sum(generator["worker_request_totals"].values()) == len(sent) > 0
    assert sum(_hlog_counts(out, "ALL.hlog")) == merged
    assert all(r.get("x-gameday-test") == "foreign" for r in sent)
    ledger = (out / "ledger.jsonl").read_text().splitlines()
    assert len(ledger) == sum(r["line"].startswith("POST /orders") for r in sent) > 0


@pytest.mark.parametrize("workers", [0, 2])
def test_a_closed_model_stop_lets_the_requests_in_flight_finish_and_counts_them(
    tmp_path: Path, foreign: Path, recorded: Path, workers: int
) -> None:
    """Every answer takes 2 s and the users wait 0.2 s between tasks, so at the stop (3 s)
    each is mid-request, 0.8 s into its second: the run waits for them (Locust's
    --stop-timeout) and records what the target received, no fewer."""
    out = tmp_path / "run"
    with serving("--record", str(recorded), "--knee-rps", "0", "--slow-ms", "2000") as url:
        _run(out, foreign, url, shape="steady", users=2, workers=workers, duration_s=3)
    merged = sum(n for (_, endpoint), n in _per_second(out).items() if endpoint == "ALL")
    assert merged == len(_sent(recorded)) > 0


def test_an_open_model_arrival_is_timed_from_when_it_was_due(tmp_path: Path, foreign: Path) -> None:
    """One slot in flight and every answer 200 ms late: arrivals queue behind each other,
    and their latency counts the queueing, not only the 200 ms the target took."""
    out = tmp_path / "run"
    with serving("--knee-rps", "0", "--slow-ms", "200") as url:
        _run(out, foreign, url, shape="constant-rate", target_rps=10, max_in_flight=1)
    generator = json.loads((out / "generator.json").read_text())
    assert generator["late_starts"] > 0
    exemplars = [json.loads(line) for line in (out / "exemplars.jsonl").read_text().splitlines()]
    slowest = max(exemplars, key=lambda e: e["latency_ms"])
    assert slowest["service_ms"] < 1000 < slowest["latency_ms"], slowest


def test_an_arrival_runs_the_classes_arrival_method_once_on_one_of_few_instances(
    tmp_path: Path, foreign: Path, target: str, recorded: Path
) -> None:
    out = tmp_path / "run"
    sessions = tmp_path / "sessions.py"
    sessions.write_text(SESSIONS)
    _run(
        out,
        foreign,
        target,
        shape="constant-rate",
        target_rps=20,
        mix={"Shopper": 1},
        locustfiles=[str(foreign), str(sessions)],
    )
    lines = [r["line"].split()[1] for r in _sent(recorded)]
    assert lines.count("/arrival") == 20 * 5  # exactly one request an arrival
    assert "/session/0" not in lines  # the task is the closed model's
    assert lines.count("/login") == 16  # on_start once per instance (16 per class)


def test_arrivals_that_let_a_timeout_out_still_run_on_the_schedule_and_are_counted(
    tmp_path: Path, target: str, recorded: Path
) -> None:
    """With one slot, an arrival that ended the greenlet running it would keep its slot
    for good, and the arrivals after it would never run."""
    out = tmp_path / "run"
    impatient = tmp_path / "impatient.py"
    impatient.write_text(TIMED_OUT)
    _run(out, impatient, target, shape="constant-rate", target_rps=10, max_in_flight=1,
         mix={"Impatient": 1}, duration_s=3)  # fmt: skip
    assert [r["line"].split()[1] for r in _sent(recorded)] == ["/impatient"] * 30
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    errors = [e for e in events if e.get("type") == "arrival_error"]
    assert len(errors) == 30 and "Timeout" in errors[0]["error"], errors[:1]


def test_a_mix_naming_a_class_the_files_lack_stops_locust_with_one_line(
    tmp_path: Path, foreign: Path, target: str
) -> None:
    out = tmp_path / "run"
    (out / "locust").mkdir(parents=True)
    config = LoadConfig(
        mix={"Browsr": 1},
        locustfiles=[str(foreign)],
        users=1,
        duration_s=5,
        target_url=target,
        run_dir=str(out),
    )
    with pytest.raises(RunFailed):
        run_load(config, out, on_tick=lambda _: None)
    log = (out / "locust" / "locust.log").read_text()
    assert (
        "names user class 'Browsr', which the Locust files do not define; "
        "they define: Browser, Buyer, NotInTheMix"
    ) in log
