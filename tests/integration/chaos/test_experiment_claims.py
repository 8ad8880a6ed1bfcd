"""Each shipped experiment under real load, through real faults, asserting what its
title claims (docs/experiments.md) with the thresholds of its description and of
slo.yaml. Where FAIL is the finding (a whole-run availability budget that an outage
spends by design), the test names the objectives that failed and those that held."""

from __future__ import annotations

from pathlib import Path

import yaml

from gameday.app.plan import reference_profile
from gameday.chaos.breakers import BreakerWatcher
from gameday.chaos.probes import queue_depth, service_metrics
from gameday.chaos.processes import service_workers
from gameday.settings import StackSettings
from gameday.slo.loader import load_slo
from gameday.slo.units import parse_duration_s
from gameday.stack.process import read_tracked
from gameday.stack.prometheus import LOCAL_FOR, Prometheus
from tests.integration.chaos.evidence import (
    READS,
    SERVER_ERRORS,
    WRITES,
    Run,
    assert_no_fault_left,
    total,
)
from tests.integration.own_service import (
    ROOT,
    RunningService,
    gameday_run,
    gameday_run_in_background,
    running_service,
)
from tests.integration.prober_crosscheck import (
    cross_check,
    harness_windows,
    independent_prober,
    write_token,
)
from tests.integration.service.service_helpers import metric, wait_for

EXPERIMENTS = ROOT / "experiments"
SLO = load_slo(ROOT / "slo.yaml")
# Faults held 10 s instead of the shipped 15-20 s show the same behaviour in less CI
# time, except where the breaker's 30 s open period must end before the after-check.
SHORT_FAULT = ("--var", "fault_s=10")
AVAILABILITY = "availability [run]"


def _run(tmp_path: Path, experiment: str, scenario: str, *args: str, rate: int = 15) -> Run:
    out = tmp_path / "run"
    result = gameday_run(
        "--scenario",
        scenario,
        "--rate",
        str(rate),
        "--experiment",
        str(EXPERIMENTS / f"{experiment}.json"),
        "--rpo-grace",
        "20s",
        "--out",
        str(out),
        *args,
    )
    return Run(out, returncode=result.returncode, output=result.stdout + result.stderr)


def _assert_own_objectives_held(run: Run, fault: str, *, at_least: int) -> None:
    own = run.own_objectives(fault)
    assert len(own) >= at_least, sorted(own)
    broken = {name: o["measured"] for name, o in own.items() if o["gating"] and not o["passed"]}
    assert not broken, broken


def test_redis_down_keeps_reads_answering_and_refuses_writes_fast(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    refused_before = _refused_writes(own_service.url)
    run = _run(tmp_path, "redis-down", "search_mix", "--target", own_service.url, *SHORT_FAULT)
    # The finding: writes refused for the outage spend the whole run's error budget.
    assert run.returncode == 1, run.output
    assert run.failed_gating() == {AVAILABILITY}, run.failed_gating()
    assert run.outcome["verdict"] == "pass" and run.outcome["steady_state_before"] is True
    # Its own objectives: RTO, RPO, lost writes, reads never fail, writes refused fast.
    _assert_own_objectives_held(run, "redis-down", at_least=9)
    start, end = run.window("redis-down")
    reads, writes = run.rows(READS, start, end), run.rows(WRITES, start, end)
    assert total(reads, "requests") > 0 and total(reads, *SERVER_ERRORS) == 0
    # Writes fail closed (the limiter cannot count them): 503 at once, never a timeout.
    assert total(writes, "fail_5xx") > 0, writes
    assert total(writes, "fail_timeout", "fail_connection") == 0, writes
    assert _refused_writes(own_service.url) > refused_before
    assert_no_fault_left(stack, "redis")


def _metrics(url: str) -> dict[str, float]:
    """The service's samples, read as the probes read them (its metrics endpoint)."""
    return service_metrics({"gameday_metrics_url": f"{url}/metrics"})


def _refused_writes(url: str) -> float:
    key = 'service_ratelimit_decisions_total{outcome="redis_unavailable_closed"}'
    return _metrics(url).get(key, 0.0)


def test_a_broker_outage_loses_no_acknowledged_write_with_the_outbox(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    broker_errors = _broker_errors(own_service.url)
    run = _run(tmp_path, "rabbitmq-down", "write_heavy", "--target", own_service.url, *SHORT_FAULT)
    assert run.returncode == 0, run.output
    # the relay saw the outage as one (it once counted a closed connection as a success)
    assert _broker_errors(own_service.url) > broker_errors
    # Its own objectives: RTO, RPO, lost writes and writes acknowledged in the outage.
    _assert_own_objectives_held(run, "rabbitmq-down", at_least=6)
    start, end = run.window("rabbitmq-down")
    writes = run.rows(WRITES, start, end)
    assert total(writes, "requests") > 0 and total(writes, *SERVER_ERRORS) == 0, writes
    ledger = run.ledger()
    assert any(start <= e["t_s"] < end for e in ledger), "no write was acknowledged in the outage"
    reconciliation = run.summary["reconciliation"]
    assert reconciliation["lost"] == 0 and reconciliation["rpo_s"] == 0.0, reconciliation
    assert reconciliation["acknowledged"] == len(ledger)
    # the relay drained what waited in the outbox
    wait_for(
        lambda: _metrics(own_service.url).get("service_outbox_backlog{}", 1.0) == 0,
        timeout_s=30,
        what="the outbox backlog to drain",
    )
    assert_no_fault_left(stack, "rabbitmq")


def _broker_errors(url: str) -> float:
    return metric(url, "service_dependency_errors_total", dependency="rabbitmq")


def test_without_the_outbox_the_same_outage_loses_writes_and_fails(
    stack: StackSettings, tmp_path: Path
) -> None:
    with running_service(stack, tmp_path, {"SERVICE_OUTBOX_ENABLED": "false"}) as naive:
        run = _run(tmp_path, "rabbitmq-down", "write_heavy", "--target", naive.url, *SHORT_FAULT)
    assert run.returncode == 1, run.output
    reconciliation = run.summary["reconciliation"]
    assert reconciliation["lost"] > 0 and reconciliation["rpo_s"] > 0, reconciliation
    assert "lost writes" in run.output
    failed = run.failed_gating()
    assert {"rabbitmq-down RPO", "rabbitmq-down lost writes"} <= failed, failed
    # the writes were acknowledged (the broken promise), not refused
    assert "rabbitmq-down RTO" not in failed


def test_opensearch_down_opens_the_breaker_serves_stale_answers_and_closes_it(
    stack: StackSettings, tmp_path: Path
) -> None:
    # The shipped 20 s fault: the breaker stays open 30 s from opening, and the
    # after-check 25 s after removal must come once it has closed. The independent
    # prober watches the same service from its own process. The stack's own service
    # (not a private one): the stack's Prometheus scrapes it, so the breaker alert
    # can be judged too.
    token = write_token(tmp_path / "token", tenant="prober-opensearch-down")
    with independent_prober(stack.service_url, token, tmp_path / "probes.jsonl") as prober:
        run = _run(tmp_path, "opensearch-down", "search_mix")
    # The finding: uncached searches refused while the breaker is open spend the budget.
    assert run.returncode == 1, run.output
    assert run.failed_gating() == {AVAILABILITY}, run.failed_gating()
    assert run.outcome["verdict"] == "pass", run.outcome
    own = run.own_objectives("opensearch-down")
    wanted = SLO.for_experiment("opensearch-down").breaker
    assert wanted is not None and wanted.open_within == 5 and wanted.close_within == 30
    opens = own["opensearch-down opensearch breaker opens"]
    closes = own["opensearch-down opensearch breaker closes"]
    assert opens["passed"] and opens["measured"] <= 5.0, opens
    assert closes["passed"] and closes["measured"] <= 30.0, closes
    _assert_own_objectives_held(run, "opensearch-down", at_least=6)
    start, end = run.window("opensearch-down")
    searches = run.rows(("GET /v1/search",), start, end)
    assert total(searches, "degraded") >= 1, "no stale-cache answer in the outage"
    assert run.experiment("opensearch-down")["degraded_answers"] >= 1
    assert any(start <= e["t_s"] < end for e in run.ledger()), "no write acknowledged inside"
    reconciliation = run.summary["reconciliation"]
    assert reconciliation["lost"] == 0 and reconciliation["rpo_s"] == 0.0, reconciliation
    assert "degraded answers" in (run.path / "index.html").read_text()
    assert_no_fault_left(stack, "opensearch")
    # RTO and the breaker-open window agree with what the prober saw on its own: fast
    # 503s and stale answers of its own requests, within 3 s
    harness = harness_windows(run.path, fault="opensearch-down", dependency="opensearch")
    comparison = cross_check(prober.analyse(sustained_s=SLO.sustained_window), harness)
    assert comparison.agrees, comparison
    outage = comparison.outage
    assert outage is not None and outage.breaker_open is not None, comparison
    assert outage.breaker_open.refused > 0 and outage.breaker_open.degraded > 0, outage
    _assert_the_breaker_alert_fired_in_time(run, stack)


def _assert_the_breaker_alert_fired_in_time(run: Run, stack: StackSettings) -> None:
    """Did we notice? BreakerOpen{dependency="opensearch"} was seen firing within its
    local `for:` plus the stack Prometheus's scrape and evaluation intervals plus the
    harness's poll interval of the breaker opening (the issue's bound left out the
    scrape: Prometheus can only see the breaker open at its next scrape), and the report
    shows the time to detect."""
    (start, _) = run.window("opensearch-down")
    opened = next(
        e["t_s"]
        for e in run.events("breaker_transition")
        if e["dependency"] == "opensearch" and e["to_state"] == "open" and e["t_s"] >= start
    )
    firing = [
        e
        for e in run.events("alert_firing")
        if e["alert"] == "BreakerOpen" and e["labels"].get("dependency") == "opensearch"
    ]
    assert firing, run.events("alert_firing")
    fired = firing[0]["t_s"]
    for_s = parse_duration_s(yaml.safe_load(LOCAL_FOR.read_text())["BreakerOpen"])
    intervals = Prometheus(stack).scrape_config()["global"]
    scrape_s = parse_duration_s(intervals["scrape_interval"])
    evaluation_s = parse_duration_s(intervals["evaluation_interval"])
    watched = reference_profile(stack).alerts
    assert watched is not None
    bound = for_s + scrape_s + evaluation_s + watched.poll_interval_s
    # never before `for:`, less the harness's own lag in seeing the breaker open (Prometheus
    # may scrape it open up to one breaker poll before the harness's poll does)
    assert for_s - BreakerWatcher.POLL_S <= fired - opened <= bound, (opened, fired, bound)
    detect = run.own_objectives("opensearch-down")[
        'opensearch-down detects BreakerOpen{dependency="opensearch"}'
    ]
    assert detect["passed"] and abs(detect["measured"] - (fired - start)) < 0.01, detect
    alerts = run.experiment("opensearch-down")["alerts"]
    (seen,) = [a for a in alerts if a["alert"] == "BreakerOpen"]
    html = (run.path / "index.html").read_text()
    assert f"time to detect <b>{seen['detected_after_s']:.1f} s</b>" in html


def test_opensearch_latency_answers_searches_within_the_budget_instead_of_queueing(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    fault = "opensearch-latency-800ms-downstream"
    run = _run(tmp_path, "opensearch-latency", "read_only", "--target", own_service.url)
    # The finding: uncached searches refused (fast 503) spend the run's error budget.
    assert run.returncode == 1, run.output
    assert run.failed_gating() == {AVAILABILITY}, run.failed_gating()
    own = run.own_objectives(fault)
    p99 = own[f"experiment:{fault} GET /v1/search p99 latency [fault:{fault}]"]
    assert p99["passed"] and p99["measured"] <= 1000.0, p99
    _assert_own_objectives_held(run, fault, at_least=3)
    start, end = run.window(fault)
    searches = run.rows(("GET /v1/search",), start, end)
    # answered (fallback or a fast 503), never left to time out in a queue
    assert total(searches, "requests") > 0 and total(searches, "fail_timeout") == 0, searches
    assert_no_fault_left(stack, "opensearch")


def test_postgres_partition_fails_writes_fast_and_loses_nothing_acknowledged(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    fault = "postgres-timeout-0ms-downstream"
    run = _run(tmp_path, "postgres-partition", "write_heavy", "--target", own_service.url)
    # The finding: writes refused (fast 503) for the partition spend the error budget.
    assert run.returncode == 1, run.output
    assert run.failed_gating() == {AVAILABILITY}, run.failed_gating()
    own = run.own_objectives(fault)
    for endpoint in WRITES:
        p99 = own[f"experiment:{fault} {endpoint} p99 latency [fault:{fault}]"]
        assert p99["passed"] and p99["measured"] <= 2500.0, p99
    _assert_own_objectives_held(run, fault, at_least=6)
    start, end = run.window(fault)
    assert total(run.rows(WRITES, start, end), "fail_timeout") == 0
    reconciliation = run.summary["reconciliation"]
    assert reconciliation["lost"] == 0 and reconciliation["rpo_s"] == 0.0, reconciliation
    assert_no_fault_left(stack, "postgres")


def test_a_slow_network_on_every_dependency_causes_no_server_error(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    run = _run(tmp_path, "slow-network", "search_mix", "--target", own_service.url, *SHORT_FAULT)
    assert run.returncode == 0, run.output
    fault = "postgres-latency-40ms-downstream"
    _assert_own_objectives_held(run, fault, at_least=4)
    start, end = run.window(fault)
    rows = run.rows(("ALL",), start, end)
    assert total(rows, "requests") > 0 and total(rows, *SERVER_ERRORS) == 0, rows
    rise = run.experiment(fault)["p95_rise_ms"]
    assert rise is not None, "the p95 rise in the fault window was not measured"
    assert "p95 rise over the steady phase" in (run.path / "index.html").read_text()
    assert_no_fault_left(stack, "postgres", "redis", "rabbitmq", "opensearch")


def test_a_killed_service_worker_is_replaced_within_the_rto(
    stack: StackSettings, tmp_path: Path
) -> None:
    before = service_workers()
    # the stack's own service: the experiment kills one of its uvicorn workers
    run = _run(tmp_path, "service-worker-killed", "read_only")
    assert run.returncode == 0, run.output
    (kill,) = run.events("fault_injected")
    killed = int(kill["attributes"]["pid"])
    assert killed in before
    wait_for(
        lambda: len(service_workers()) == len(before) and killed not in service_workers(),
        timeout_s=30,
        what=f"a new worker in place of {killed}",
    )
    rto = run.objectives()[f"{kill['name']} RTO"]
    assert rto["passed"] and rto["measured"] <= SLO.experiment_defaults.rto, rto


def test_a_frozen_indexer_leaves_writes_acknowledged_and_the_queue_holding_them(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with gameday_run_in_background(
        "--scenario", "write_heavy", "--rate", "15", "--target", own_service.url,
        "--experiment", str(EXPERIMENTS / "indexer-paused.json"), *SHORT_FAULT,
        "--rpo-grace", "20s", "--out", str(out),
    ) as running:  # fmt: skip
        wait_for(
            lambda: "indexer-frozen" in _text(out / "events.jsonl"),
            timeout_s=60,
            what="the indexer to be frozen",
        )
        # observed from the broker itself while the indexer is frozen (10 s)
        wait_for(lambda: queue_depth() >= 1, timeout_s=8, what="the index queue to hold a write")
    run = Run(out, returncode=running.returncode, output=running.output)
    assert run.returncode == 0, run.output
    _assert_own_objectives_held(run, "indexer-frozen", at_least=7)
    start, end = run.window("indexer-frozen")
    writes = run.rows(WRITES, start, end)
    assert total(writes, "requests") > 0 and total(writes, *SERVER_ERRORS) == 0, writes
    reconciliation = run.summary["reconciliation"]
    assert reconciliation["lost"] == 0 and reconciliation["acknowledged"] > 0, reconciliation
    wait_for(lambda: queue_depth() == 0, timeout_s=30, what="the index queue to drain")


def test_a_killed_indexer_is_restarted_and_its_unacknowledged_writes_are_redelivered(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    before = read_tracked(stack.run_dir, "indexer")
    assert before is not None and before.is_alive()
    run = _run(tmp_path, "indexer-killed", "write_heavy", "--target", own_service.url)
    assert run.returncode == 0, run.output
    start, end = run.window("indexer-killed")  # killed, then restarted by the method
    assert end - start >= 9
    after = read_tracked(stack.run_dir, "indexer")
    assert after is not None and after.is_alive() and after.pid != before.pid
    _assert_own_objectives_held(run, "indexer-killed", at_least=7)
    writes = run.rows(WRITES, start, end)
    assert total(writes, "requests") > 0 and total(writes, *SERVER_ERRORS) == 0, writes
    reconciliation = run.summary["reconciliation"]
    assert reconciliation["lost"] == 0 and reconciliation["rpo_s"] == 0.0, reconciliation


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""
