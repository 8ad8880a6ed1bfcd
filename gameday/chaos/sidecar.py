"""Runs one Chaos Toolkit experiment beside the load, on the load's clock.

The engine calls `tick()` while the load runs: after the warm-up it starts
`chaos run` (rollback strategy `always`, so rollbacks run on failure and
interruption too). On Ctrl-C `interrupt()` passes SIGINT on. `finish()` waits
for the experiment, then makes sure the stack is left clean whatever happened:
a last-resort reset of every proxy, frozen components thawed, and a check that
no toxic is left (`LeftoverFaults` otherwise). It writes `experiment.json`.

`chaos run` exits 0 when the steady state is already broken before the
method (it skips the method): the journal, not the exit code, decides.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gameday.chaos import faults
from gameday.chaos.events import record_event
from gameday.chaos.experiment import Experiment
from gameday.chaos.probes import BREAKER_STATES
from gameday.chaos.suite import Suite
from gameday.errors import StackError
from gameday.settings import StackSettings
from gameday.stack import process


class LeftoverFaults(StackError):
    pass


class ExperimentSidecar:
    def __init__(
        self,
        experiment: Experiment,
        run_dir: Path,
        settings: StackSettings,
        variables: dict[str, float],
        *,
        start_at_s: float | None = None,
        file_suffix: str = "",
    ) -> None:
        self.experiment = experiment
        self.run_dir = run_dir
        self.settings = settings
        self.variables = variables
        self.start_at_s = experiment.warmup_s if start_at_s is None else start_at_s
        self.suffix = file_suffix  # "-<name>" in a suite: one journal per experiment
        self.proc: subprocess.Popen[bytes] | None = None
        self.interrupted = False
        self._skipped: bool | None = None

    @property
    def journal_path(self) -> Path:
        return self.run_dir / f"journal{self.suffix}.json"

    @property
    def done(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def tick(self, elapsed_s: float) -> None:
        if self.proc is None and not self.interrupted and elapsed_s >= self.start_at_s:
            self._start()

    def _start(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "chaostoolkit",
            "--log-file",
            str(self.run_dir / "chaostoolkit.log"),
            "run",
            "--rollback-strategy",
            "always",
            "--journal-path",
            str(self.journal_path),
        ]
        for key, value in self.variables.items():
            argv += ["--var", f"{key}:float={value}"]
        argv.append(str(self.experiment.path))
        env = {
            **os.environ,
            "GAMEDAY_RUN_DIR": str(self.run_dir),
            "GAMEDAY_TOXIPROXY_URL": self.settings.toxiproxy_url,
        }
        record_event(
            "experiment_started",
            self.run_dir,
            name=self.experiment.name,
            title=self.experiment.title,
        )
        with open(self.run_dir / f"chaos{self.suffix}.out", "ab") as out:
            self.proc = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def skipped_method(self) -> bool:
        """Finished without running its method: the steady state was unmet before it."""
        if not self.done:
            return False
        if self._skipped is None:  # read the journal once, when `chaos run` has ended
            steady = _read_json(self.journal_path).get("steady_states") or {}
            self._skipped = (steady.get("before") or {}).get("steady_state_met") is False
        return self._skipped

    def interrupt(self) -> None:
        self.interrupted = True
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self, timeout_s: float = 120.0) -> dict[str, Any]:
        if self.proc is not None:
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGINT)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
        self._thaw_components()
        leftovers_before_reset = faults.leftover_faults()
        faults.reset_all()  # last resort, at the end of every run
        leftovers = faults.leftover_faults()
        result = self._summarise(leftovers_before_reset)
        (self.run_dir / f"experiment{self.suffix}.json").write_text(
            json.dumps(result, indent=2) + "\n"
        )
        if leftovers:
            raise LeftoverFaults(
                f"faults still in place after the reset: {', '.join(leftovers)}; "
                "run `gameday stack down` and `gameday stack up`"
            )
        return result

    def _thaw_components(self) -> None:
        """A component left frozen (SIGSTOP) by an interrupted experiment is resumed."""
        for name in ("service", "indexer", "postgres", "redis", "rabbitmq", "opensearch"):
            tracked = process.read_tracked(self.settings.run_dir, name)
            if tracked is not None and tracked.is_alive():
                try:
                    os.killpg(tracked.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def _summarise(self, leftovers: list[str]) -> dict[str, Any]:
        journal = _read_json(self.journal_path)
        steady = journal.get("steady_states") or {}
        before = (steady.get("before") or {}).get("steady_state_met")
        after = (steady.get("after") or {}).get("steady_state_met")
        status = journal.get("status", "not started" if self.proc is None else "no journal")
        error = None
        if self.proc is None:
            error = "the experiment never started (the run ended before its warm-up)"
        elif before is False:
            error = (
                "the steady state was not met before the method: the method was skipped "
                "and the experiment proved nothing"
            )
        elif status not in ("completed",):
            error = f"the experiment ended with status {status!r}"
        return {
            "name": self.experiment.name,
            "title": self.experiment.title,
            "status": status,
            "steady_state_before": before,
            "steady_state_after": after,
            "deviated": bool(journal.get("deviated")),
            "interrupted": self.interrupted,
            "rollbacks": [
                {"name": r["activity"]["name"], "status": r["status"]}
                for r in journal.get("rollbacks", [])
            ],
            "leftovers_before_reset": leftovers,
            "error": error,
            "verdict": "error"
            if error and (before is False or self.proc is None)
            else ("pass" if status == "completed" and not journal.get("deviated") else "fail"),
        }


def _read_json(path: Path) -> dict[str, Any]:
    for _ in range(3):
        try:
            data = json.loads(path.read_text())
            return data if isinstance(data, dict) else {}
        except FileNotFoundError:
            return {}
        except ValueError:
            time.sleep(0.5)
    return {}


class BreakerWatcher:
    """Puts the service's circuit-breaker transitions on the run's timeline
    (`breaker_transition` events), read from its /metrics once a second."""

    def __init__(self, service_url: str, run_dir: Path) -> None:
        self.service_url = service_url
        self.run_dir = run_dir
        self.states: dict[str, str] = {}
        self.last_poll = -1.0

    def poll(self, elapsed_s: float) -> None:
        if elapsed_s - self.last_poll < 1.0:
            return
        self.last_poll = elapsed_s
        try:
            response = httpx.get(f"{self.service_url}/metrics", timeout=0.5)
            families = text_string_to_metric_families(response.text)
            current = {
                sample.labels["dependency"]: BREAKER_STATES.get(int(sample.value), "unknown")
                for family in families
                if family.name == "service_breaker_state"
                for sample in family.samples
            }
        except (httpx.HTTPError, ValueError):
            return  # the service may be the thing that is down: try again next second
        for dependency, state in current.items():
            before = self.states.get(dependency)
            if before is not None and before != state:
                record_event(
                    "breaker_transition", dependency=dependency, from_state=before, to_state=state
                )
            self.states[dependency] = state


class SuiteSidecar:
    """Experiments one after another on the load's clock: the next one starts at
    its planned time, but never while the previous `chaos run` is still going."""

    def __init__(
        self,
        suite: Suite,
        run_dir: Path,
        settings: StackSettings,
        variables: dict[str, float],
        *,
        service_url: str | None = None,
    ) -> None:
        self.suite = suite
        self.watcher = BreakerWatcher(service_url or settings.service_url, run_dir)
        single = len(suite.experiments) == 1
        self.sidecars = [
            ExperimentSidecar(
                experiment,
                run_dir,
                settings,
                variables,
                start_at_s=start,
                file_suffix="" if single else f"-{experiment.name}",
            )
            for experiment, start in zip(suite.experiments, suite.starts_s(), strict=True)
        ]

    def tick(self, elapsed_s: float) -> None:
        self.watcher.poll(elapsed_s)
        for previous, sidecar in zip([None, *self.sidecars], self.sidecars, strict=False):
            if sidecar.proc is None:
                if previous is None or previous.done:
                    sidecar.tick(elapsed_s)
                return

    def stop_reason(self) -> str | None:
        """Every experiment skipped its method: no fault, so nothing left to observe
        (the recovery time planned after it would only delay the error verdict)."""
        if self.sidecars and all(s.skipped_method() for s in self.sidecars):
            return "the steady state was not met before the method: no fault was injected"
        return None

    def interrupt(self) -> None:
        for sidecar in self.sidecars:
            sidecar.interrupt()

    def finish(self) -> list[dict[str, Any]]:
        outcomes = []
        starts = self.suite.starts_s()
        for i, sidecar in enumerate(self.sidecars):
            outcome = sidecar.finish()
            end = starts[i + 1] if i + 1 < len(starts) else float("inf")
            outcome["span_s"] = [starts[i], end]
            outcomes.append(outcome)
        return outcomes
