"""The independent prober against the real service: it sees a controlled outage where it
was. Its cross-checks of the harness run inside the experiments' own tests
(opensearch-down in test_experiment_claims.py, api-partition in test_experiments.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gameday.settings import StackSettings
from gameday.toxiproxy import Proxy, ToxiproxyClient
from tests.integration.own_service import RunningService
from tests.integration.prober import judge
from tests.integration.prober_crosscheck import (
    independent_prober,
    write_token,
)
from tests.integration.service.service_helpers import free_port

OUTAGE_S = 5.0
INTERVAL_S = 0.2
SUSTAINED_S = 3.0


@contextmanager
def private_api_proxy(stack: StackSettings, service: RunningService) -> Iterator[tuple[str, str]]:
    """A proxy of this test's own in front of its own service, like the stack's `api`
    proxy in front of the stack's: (proxy name, URL through it)."""
    name = f"prober-{uuid.uuid4().hex[:6]}-api"
    port = free_port()
    upstream = service.url.removeprefix("http://")
    with ToxiproxyClient(stack.toxiproxy_url) as client:
        client.populate([Proxy(name=name, listen=f"127.0.0.1:{port}", upstream=upstream)])
    try:
        yield name, f"http://127.0.0.1:{port}"
    finally:
        with ToxiproxyClient(stack.toxiproxy_url) as client:
            client.delete(name)


def test_the_prober_places_a_controlled_api_outage_within_a_second(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    token = write_token(tmp_path / "token", tenant="prober-outage")
    with (
        private_api_proxy(stack, own_service) as (proxy, url),
        independent_prober(url, token, tmp_path / "probes.jsonl", interval_s=INTERVAL_S) as prober,
        ToxiproxyClient(stack.toxiproxy_url) as toxiproxy,
    ):
        prober.wait_until_healthy_since(time.time(), seconds=SUSTAINED_S, timeout_s=30)
        cut_at = time.time()
        toxiproxy.set_enabled(proxy, False)
        cut_done = time.time()
        prober.wait_for_answers(
            lambda probes: any(p.t >= cut_at and judge(p) != "healthy" for p in probes),
            timeout_s=10,
            what="failed answer after the cut",
        )
        # the outage's length is the experiment, not a wait for something to happen
        time.sleep(max(0.0, cut_at + OUTAGE_S - time.time()))
        back_at = time.time()
        toxiproxy.set_enabled(proxy, True)
        back_done = time.time()
        prober.wait_until_healthy_since(back_done, seconds=SUSTAINED_S + 1, timeout_s=30)
    windows = prober.analyse(sustained_s=SUSTAINED_S)
    assert len(windows.outages) == 1, windows.outages
    outage = windows.outage
    assert outage is not None and outage.recovered_at is not None
    # the first failure was sent after the cut began, at most an interval (and jitter) later
    assert cut_at - 0.05 <= outage.start <= cut_done + INTERVAL_S + 0.5, (cut_at, outage)
    assert back_at - INTERVAL_S - 0.5 <= outage.last_bad <= back_done + 0.5, (back_at, outage)
    assert back_at <= outage.recovered_at <= back_done + INTERVAL_S + 0.5, (back_at, outage)
    assert abs(outage.duration_s - OUTAGE_S) <= 1.0, outage
    # refused connections are not a breaker's answers: no breaker window is inferred
    assert outage.breaker_open is None and set(outage.counts) == {"failed"}, outage
