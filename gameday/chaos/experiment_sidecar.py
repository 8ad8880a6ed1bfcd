"""Runs one Chaos Toolkit experiment beside the load, on the load's clock.

The engine calls `tick()` while the load runs: after the warm-up it starts
`chaos run` (rollback strategy `always`, so rollbacks run on failure and
interruption too), with what the providers read as --var values
(gameday.chaos.configuration). On Ctrl-C `interrupt()` passes SIGINT on. `finish()`
waits for the experiment, then makes sure the stack is left clean whatever happened:
a last-resort reset of the proxies the experiment names (when that cannot be told:
the target profile's and those it names; every proxy only without a profile), frozen
components thawed, this stack's partition rules deleted (gameday.chaos.partition),
and a check that no toxic or rule is left (`LeftoverFaults` otherwise). It writes
`experiment.json`, with the fault window inferred from the journal when the method
recorded none (gameday.chaos.inferred).

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
from typing import Any, Literal

from gameday import stack
from gameday.chaos import faults, partition, safeguard, target_process
from gameday.chaos.configuration import TOXIPROXY_URL_VAR, declaring_keys
from gameday.chaos.events import RUN_DIR_VAR
from gameday.chaos.experiment import Experiment
from gameday.chaos.inferred import infer_window
from gameday.chaos.named_proxies import named_proxies, proxies_named
from gameday.errors import ConfigError, StackError
from gameday.rundir import ExperimentOutcome, ExperimentStarted, RollbackOutcome, RunDir
from gameday.settings import StackSettings
from gameday.target import TargetProfile

__all__ = [
    "FAULT_MODULES",
    "ExperimentSidecar",
    "LeftoverFaults",
    "injected_faults",
    "read_journal",
]

FAULT_MODULES = (
    "gameday.chaos.faults",
    "gameday.chaos.processes",
    "gameday.chaos.rabbitmq_cluster",
    "gameday.chaos.partition",
    "gameday.chaos.redis_failover",
    "gameday.chaos.search_cluster",
)


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
        profile: TargetProfile | None = None,
        chaos_values: dict[str, str] | None = None,
    ) -> None:
        self.experiment = experiment
        self.profile = profile
        # --var values for `chaos run` beside the run directory (chaos_configuration)
        self.chaos_values = chaos_values or {TOXIPROXY_URL_VAR: settings.toxiproxy_url}
        self.run_dir = run_dir
        self.files = RunDir(run_dir)
        self.settings = settings
        self.variables = variables
        self.start_at_s = experiment.warmup_s if start_at_s is None else start_at_s
        self.suffix = file_suffix  # "-<name>" in a suite: one journal per experiment
        self.proc: subprocess.Popen[bytes] | None = None
        self.interrupted = False
        self._skipped: bool | None = None

    @property
    def journal_path(self) -> Path:
        return self.files.journal_json(self.suffix)

    @property
    def done(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def tick(self, elapsed_s: float) -> None:
        if self.proc is None and not self.interrupted and elapsed_s >= self.start_at_s:
            self._start()

    def _start(self) -> None:
        # Chaos Toolkit keeps a --var only for a key the experiment declares.
        experiment_file = self.files.chaos_experiment_json(self.suffix)
        values = {RUN_DIR_VAR: str(self.run_dir), **self.chaos_values}
        experiment_file.write_text(
            json.dumps(declaring_keys(self.experiment.data, values), indent=2) + "\n"
        )
        argv = [
            sys.executable,
            "-m",
            "chaostoolkit",
            "--log-file",
            str(self.run_dir / "chaostoolkit.log"),
            "run",
            "--rollback-strategy",
            "always",
            # records which stop condition fired, if one did (gameday.chaos.safeguard)
            "--control-file",
            str(safeguard.CONTROL_FILE),
            "--journal-path",
            str(self.journal_path),
        ]
        for key, value in self.variables.items():
            argv += ["--var", f"{key}:float={value}"]
        argv += [arg for key, value in values.items() for arg in ("--var", f"{key}={value}")]
        argv.append(str(experiment_file))
        self.files.append_event(
            ExperimentStarted(name=self.experiment.name, title=self.experiment.title)
        )
        with open(self.files.chaos_out(self.suffix), "ab") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def skipped_method(self) -> bool:
        """Finished without running its method: the steady state was unmet before it."""
        if not self.done:
            return False
        if self._skipped is None:  # read the journal once, when `chaos run` has ended
            steady = read_journal(self.journal_path).get("steady_states") or {}
            self._skipped = (steady.get("before") or {}).get("steady_state_met") is False
        return self._skipped

    def interrupt(self) -> None:
        self.interrupted = True
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self, timeout_s: float = 120.0) -> ExperimentOutcome:
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
        # Last resort, at the end of every experiment: on the proxies it names only, so
        # a suite or test sharing the stack keeps its own faults; all of them only when
        # a fault action names a proxy that cannot be told before it runs.
        proxies = proxies_named(self.experiment, self.variables)
        if self.profile is not None and proxies is None:
            # unsure which: the profile's proxies (and those the experiment names), never
            # every proxy of the server, which other targets and tests may be using
            proxies = set(self.profile.dependencies) | named_proxies(
                self.experiment, self.variables
            )
        configuration = {RUN_DIR_VAR: str(self.run_dir), **self.chaos_values}
        leftovers_before_reset: list[str] = []
        leftovers: list[str] = []
        if proxies is None or proxies:
            leftovers_before_reset = faults.leftover_faults(proxies, configuration)
            if proxies is None:
                faults.reset_all(configuration)
            else:
                faults.reset_proxies(proxies, configuration)
            leftovers = faults.leftover_faults(proxies, configuration)
        # This stack's partition rules (its search and RabbitMQ nodes'): always checked,
        # always deleted; another stack's are left alone.
        cuts = partition.leftover_partitions()
        if cuts:
            partition.heal_all_partitions()
            leftovers_before_reset += cuts
            leftovers += partition.leftover_partitions()
        result = self._summarise(leftovers_before_reset)
        self.files.write_outcome(result, self.suffix)
        if leftovers:
            raise LeftoverFaults(
                f"faults still in place after the reset: {', '.join(leftovers)}; "
                "run `gameday stack down` and `gameday stack up`"
            )
        return result

    def _thaw_components(self) -> None:
        """A component left frozen (SIGSTOP) by an interrupted experiment is resumed: any
        of the profile's processes and of the stack registry's (SIGCONT does nothing to
        one that runs)."""
        for component, process in (self.profile.processes if self.profile else {}).items():
            try:
                pid = target_process.pid_of(component, process)
                target_process.signal_process(pid, signal.SIGCONT)
            except (StackError, ConfigError, PermissionError):
                pass  # not running (killed, not restarted), or not ours to signal
        for name in stack.COMPONENT_NAMES:
            tracked = stack.read_tracked(self.settings.run_dir, name)
            if tracked is not None and tracked.is_alive():
                try:
                    os.killpg(tracked.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def _summarise(self, leftovers: list[str]) -> ExperimentOutcome:
        journal = read_journal(self.journal_path)
        steady = journal.get("steady_states") or {}
        before = (steady.get("before") or {}).get("steady_state_met")
        after = (steady.get("after") or {}).get("steady_state_met")
        status = journal.get("status", "not started" if self.proc is None else "no journal")
        fired = safeguard.tripped_safeguard(journal)
        deviated = bool(journal.get("deviated"))
        error = None
        verdict: Literal["pass", "fail", "error"]
        if self.proc is None:
            error = "the experiment never started (the run ended before its warm-up)"
            verdict = "error"
        elif before is False:
            error = (
                "the steady state was not met before the method: the method was skipped "
                "and the experiment proved nothing"
            )
            verdict = "error"
        elif fired is not None and "run" not in journal:  # the method never began
            error = f"aborted by safeguard: {fired}, before the method: no fault was injected"
            verdict = "error"
        elif fired is not None:
            # The system breached the limit of harm the experiment declared: that is the
            # finding (FAIL), even though the rest of the method never ran.
            error = f"aborted by safeguard: {fired}"
            verdict = "fail"
        elif status != "completed":
            error = f"the experiment ended with status {status!r}"
            verdict = "fail"
        elif failed := failed_actions(journal):
            # Chaos Toolkit completes an experiment whose action raised: the fault may never
            # have been injected, so the run proved nothing about it.
            error = f"method action {failed}: the fault may not have been injected"
            verdict = "error"
        else:
            verdict = "fail" if deviated else "pass"
        outcome = ExperimentOutcome(
            name=self.experiment.name,
            title=self.experiment.title,
            status=status,
            steady_state_before=before,
            steady_state_after=after,
            deviated=deviated,
            interrupted=self.interrupted,
            safeguards=safeguard.declared_safeguards(journal),
            aborted_by_safeguard=fired is not None,
            safeguard=fired,
            rollbacks=[
                RollbackOutcome(name=r["activity"]["name"], status=r["status"])
                for r in journal.get("rollbacks", [])
            ],
            leftovers_before_reset=leftovers,
            inferred_window=infer_window(journal, FAULT_MODULES),
            error=error,
            verdict=verdict,
        )
        return outcome


def read_journal(path: Path) -> dict[str, Any]:
    for _ in range(3):
        try:
            data = json.loads(path.read_text())
            return data if isinstance(data, dict) else {}
        except FileNotFoundError:
            return {}
        except ValueError:
            time.sleep(0.5)
    return {}


def failed_actions(journal: dict[str, Any]) -> str | None:
    """The first method action that failed, with the last line of its exception."""
    for record in journal.get("run") or []:
        activity = record.get("activity") or {}
        if activity.get("type") == "action" and record.get("status") == "failed":
            lines = [str(x).strip() for x in record.get("exception") or [] if str(x).strip()]
            return f"{activity.get('name', '?')!r} failed ({lines[-1] if lines else 'no detail'})"
    return None


def injected_faults(journal: dict[str, Any]) -> list[str]:
    """The faults an experiment's method injected, by the names their providers returned
    (gameday.chaos.faults and .processes return the name they put on the timeline)."""
    names = []
    for record in journal.get("run") or []:
        provider = (record.get("activity") or {}).get("provider") or {}
        output = record.get("output")
        if provider.get("module") in FAULT_MODULES and isinstance(output, str) and output:
            names.append(output)
    return names
