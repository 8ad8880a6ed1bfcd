"""Reading a finished run directory the way the claims tests need it: the fault
window from the timeline, per-second rows of an endpoint inside it, and which
objectives of the summary failed or held."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.settings import StackSettings
from gameday.toxiproxy import ToxiproxyClient

SERVER_ERRORS = ("fail_5xx", "fail_connection", "fail_timeout")
READS = ("GET /v1/search", "GET /v1/autocomplete", "GET /v1/documents/{id}")
WRITES = ("POST /v1/documents", "PUT /v1/documents/{id}", "DELETE /v1/documents/{id}")


def read_json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


@dataclass(frozen=True)
class Run:
    """One finished `gameday run` directory, with the command's exit code and output."""

    path: Path
    returncode: int = 0
    output: str = ""

    @property
    def summary(self) -> dict[str, Any]:
        return read_json(self.path / "summary.json")

    @property
    def outcome(self) -> dict[str, Any]:
        return read_json(self.path / "experiment.json")

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        lines = (self.path / "events.jsonl").read_text().splitlines()
        events = [json.loads(line) for line in lines if line.strip()]
        return [e for e in events if kind is None or e["type"] == kind]

    def ledger(self) -> list[dict[str, Any]]:
        file = self.path / "ledger.jsonl"
        lines = file.read_text().splitlines() if file.exists() else []
        return [json.loads(line) for line in lines if line.strip()]

    def window(self, name: str | None = None) -> tuple[float, float]:
        """The fault's [injected, removed) on the load's clock (the first fault if unnamed)."""
        injected = next(
            e for e in self.events("fault_injected") if name is None or e["name"] == name
        )
        removed = next(e for e in self.events("fault_removed") if e["name"] == injected["name"])
        return float(injected["t_s"]), float(removed["t_s"])

    def rows(
        self, endpoints: tuple[str, ...], start_s: float, end_s: float
    ) -> list[dict[str, int]]:
        """timeseries.csv rows of these endpoints whose second lies inside [start, end)."""
        with open(self.path / "timeseries.csv") as f:
            return [
                {k: int(float(v or 0)) for k, v in row.items() if k != "endpoint"}
                for row in csv.DictReader(f)
                if row["endpoint"] in endpoints and start_s <= int(row["second"]) < end_s
            ]

    def experiment(self, name: str | None = None) -> dict[str, Any]:
        experiments = self.summary["experiments"]
        return next(e for e in experiments if name is None or e["name"] == name)

    def objectives(self) -> dict[str, dict[str, Any]]:
        return {o["name"]: o for o in self.summary["objectives"]}

    def failed_gating(self) -> set[str]:
        return {o["name"] for o in self.summary["objectives"] if o["gating"] and not o["passed"]}

    def own_objectives(self, fault: str) -> dict[str, dict[str, Any]]:
        """The experiment's own objectives: judged in its fault window, scoped to it."""
        return {
            o["name"]: o
            for o in self.summary["objectives"]
            if o["phase"] == f"fault:{fault}" and o["scope"] == f"experiment:{fault}"
        }


def total(rows: list[dict[str, int]], *columns: str) -> int:
    return sum(row[c] for row in rows for c in columns)


def assert_no_fault_left(stack: StackSettings, *proxies: str) -> None:
    """The proxies an experiment used are enabled again, with no toxic."""
    with ToxiproxyClient(stack.toxiproxy_url) as client:
        found = client.proxies()
    for name in proxies:
        assert found[name].enabled and not found[name].toxics, found[name]
