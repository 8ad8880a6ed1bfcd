"""Post a run's faults to Grafana as annotations tagged `gameday` and `fault`: the game
day dashboard (gameday.json) shows them over its panels.

    .venv/bin/python deploy/grafana/annotate.py reports/<run> --grafana http://127.0.0.1:3000

One region annotation per fault, from its `fault_injected` to its `fault_removed` in
events.jsonl (a fault never removed ends at the run's last event). GRAFANA_TOKEN, when
set, is sent as a bearer token.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any


def annotations_from_events(lines: list[str], run_id: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in lines if line.strip()]
    last_ms = max((int(e["epoch"] * 1000) for e in events), default=0)
    open_faults: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == "fault_injected":
            open_faults[event["name"]] = event
        elif event["type"] == "fault_removed" and event["name"] in open_faults:
            out.append(_region(open_faults.pop(event["name"]), int(event["epoch"] * 1000), run_id))
    out += [_region(e, last_ms, run_id) for e in open_faults.values()]
    return sorted(out, key=lambda a: a["time"])


def _region(injected: dict[str, Any], end_ms: int, run_id: str) -> dict[str, Any]:
    return {
        "time": int(injected["epoch"] * 1000),
        "timeEnd": end_ms,
        "tags": ["gameday", "fault", injected["name"], f"run:{run_id}"],
        "text": f"{injected['name']}: {injected.get('fault', 'fault')} on {injected['target']}",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--grafana", default="http://127.0.0.1:3000")
    args = parser.parse_args(argv)
    events_path = args.run_dir / "events.jsonl"
    if not events_path.is_file():
        sys.stderr.write(f"no {events_path}: pass a run directory written by `gameday run`\n")
        return 2
    annotations = annotations_from_events(events_path.read_text().splitlines(), args.run_dir.name)
    headers = {"Content-Type": "application/json"}
    if token := os.environ.get("GRAFANA_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    for annotation in annotations:
        request = urllib.request.Request(
            f"{args.grafana}/api/annotations", json.dumps(annotation).encode(), headers
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - the user's Grafana
            pass
    sys.stdout.write(f"{len(annotations)} fault annotation(s) posted to {args.grafana}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
