"""A fault removed twice (the method, then a rollback with strategy `always`) is
removed once: the second call finds it gone and neither fails nor records an event."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx

from gameday.chaos import faults
from gameday.chaos.events import configuration_for
from gameday.settings import StackSettings
from gameday.toxiproxy import Proxy, ToxiproxyClient


def test_removing_a_fault_that_is_already_gone_is_a_no_op(
    stack: StackSettings, tmp_path: Path
) -> None:
    # what `chaos run` passes as its configuration (gameday run's --var values)
    run_dir = configuration_for(tmp_path, toxiproxy_url=stack.toxiproxy_url)
    proxy = f"rm-{uuid.uuid4().hex[:8]}"
    with ToxiproxyClient(stack.toxiproxy_url) as client:
        # a private proxy (never listened on by anyone) so no one else's faults are touched
        client.populate([Proxy(name=proxy, listen="127.0.0.1:0", upstream="127.0.0.1:9")])
        try:
            name = faults.add_latency(proxy, 100, configuration=run_dir)
            assert [t.name for t in client.proxies()[proxy].toxics] == [name]
            faults.remove_fault(proxy, name, configuration=run_dir)
            faults.remove_fault(proxy, name, configuration=run_dir)  # the rollback: gone
            assert client.proxies()[proxy].toxics == []
        finally:
            httpx.delete(f"{stack.toxiproxy_url}/proxies/{proxy}", timeout=5.0)
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["type"] for e in events] == ["fault_injected", "fault_removed"]
