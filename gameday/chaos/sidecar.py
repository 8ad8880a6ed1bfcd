"""Runs one Chaos Toolkit experiment beside the load, on the load's clock.

The engine calls `tick()` while the load runs: after the warm-up it starts
`chaos run` (rollback strategy `always`, so rollbacks run on failure and
interruption too). On Ctrl-C `interrupt()` passes SIGINT on. `finish()` waits
for the experiment, then makes sure the stack is left clean whatever happened:
a last-resort reset of the proxies the experiment names (every proxy only when
that cannot be told), frozen components thawed, and a check that no toxic is
left on them (`LeftoverFaults` otherwise). It writes `experiment.json`.

`chaos run` exits 0 when the steady state is already broken before the
method (it skips the method): the journal, not the exit code, decides.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

from gameday import stack
from gameday.chaos import faults, safeguard, target_process
from gameday.chaos.breakers import BreakerWatcher
from gameday.chaos.configuration import (
    TOXIPROXY_URL_VAR,
    chaos_configuration,
    declaring_keys,
    moved_metrics_url,
    reference_signals,
)
from gameday.chaos.events import RUN_DIR_VAR
from gameday.chaos.experiment import REFERENCE, Experiment
from gameday.chaos.inferred import infer_window
from gameday.chaos.settle import SettleGate, steady_state_of
from gameday.chaos.suite import Suite
from gameday.errors import ConfigError, StackError
from gameday.rundir import (
    ExperimentOutcome,
    ExperimentStarted,
    RollbackOutcome,
    RunDir,
)
from gameday.settings import StackSettings
from gameday.target import TargetProfile

FAULT_MODULES = ("gameday.chaos.faults", "gameday.chaos.processes")
# chaostoolkit-toxiproxy's actions name their proxy `for_proxy` (ours: `proxy`)
PROXY_ARGUMENTS = {"gameday.chaos.faults": "proxy", "chaostoxi.toxic.actions": "for_proxy"}
PROXY_ARGUMENTS |= {"chaostoxi.proxy.actions": "proxy_name"}


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
            steady = _read_json(self.journal_path).get("steady_states") or {}
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
        journal = _read_json(self.journal_path)
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


def proxies_named(experiment: Experiment, variables: dict[str, float]) -> set[str] | None:
    """The Toxiproxy proxies the experiment's method and rollbacks act on (the `proxy`
    argument of their gameday.chaos.faults actions, chaostoolkit-toxiproxy's
    `for_proxy` / `proxy_name`, `${key}` resolved like `chaos run` does); empty for one
    with no network fault (process faults); None when a fault action names no proxy
    this can tell (`reset_all`, a user's own provider)."""
    named = _proxy_per_activity(experiment, variables)
    if any(proxy is None for proxy in named):
        return None
    return {proxy for proxy in named if proxy is not None}


def named_proxies(experiment: Experiment, variables: dict[str, float]) -> set[str]:
    """The proxies its fault actions name, leaving out those that name none."""
    return {proxy for proxy in _proxy_per_activity(experiment, variables) if proxy is not None}


def _proxy_per_activity(experiment: Experiment, variables: dict[str, float]) -> list[str | None]:
    """For each activity that may fault a proxy: the proxy it names, or None when that
    cannot be told (a user's action, `reset_all`, a `${key}` left unset)."""
    configuration: dict[str, Any] = {**experiment.configuration, **variables}
    found: list[str | None] = []
    for activity in [*experiment.data.get("method", []), *(experiment.data.get("rollbacks") or [])]:
        provider = activity.get("provider") or {}
        argument = PROXY_ARGUMENTS.get(str(provider.get("module")))
        if argument is None:
            if activity.get("type") == "action" and _unknown(provider):
                found.append(None)  # a user's action may fault any proxy
            continue
        proxy = (provider.get("arguments") or {}).get(argument)
        match = REFERENCE.match(proxy) if isinstance(proxy, str) else None
        if match:
            proxy = configuration.get(match.group(1))
        found.append(proxy if isinstance(proxy, str) and proxy else None)
    return found


def _unknown(provider: dict[str, Any]) -> bool:
    """An action of a module that is not one of gameday's: what it faults is unknown."""
    module = provider.get("module")
    return provider.get("type") != "python" or (
        isinstance(module, str) and not module.startswith("gameday.chaos.")
    )


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


class SuiteSidecar:
    """Experiments one after another on the load's clock. The next one is due after the
    previous one's planned method, recovery and the cool-down, counted from when it
    really started; it starts when due, never while the previous `chaos run` is still
    going, and only once the steady state holds again (`SettleGate`, bounded by the
    suite's `settle_timeout`)."""

    def __init__(
        self,
        suite: Suite,
        run_dir: Path,
        settings: StackSettings,
        variables: dict[str, float],
        *,
        service_url: str | None = None,
        min_duration_s: float = 0.0,
        profile: TargetProfile | None = None,
    ) -> None:
        self.suite = suite
        self.min_duration_s = min_duration_s  # the load never ends before this
        self.profile = profile
        url = service_url or settings.service_url
        self.watcher: BreakerWatcher | None = None
        if profile is None:
            self.watcher = BreakerWatcher(reference_signals(url), run_dir)
        elif profile.signals is not None and profile.signals.breakers:
            self.watcher = BreakerWatcher(
                profile.signals, run_dir, metrics_url=moved_metrics_url(profile, service_url)
            )
        values = chaos_configuration(profile, run_dir, settings, service_url)
        single = len(suite.experiments) == 1
        self.sidecars = [
            ExperimentSidecar(
                experiment,
                run_dir,
                settings,
                variables,
                start_at_s=start,
                file_suffix="" if single else f"-{experiment.name}",
                profile=profile,
                chaos_values=values,
            )
            for experiment, start in zip(suite.experiments, suite.starts_s(), strict=True)
        ]
        self.gates: list[SettleGate | None] = [None]
        self.gates += [
            SettleGate(
                experiment.name,
                steady_state_of(experiment, variables),
                run_dir,
                timeout_s=suite.settle_timeout_s,
            )
            if suite.settle_timeout_s > 0
            else None
            for experiment in suite.experiments[1:]
        ]
        self.started_s: list[float | None] = [None] * len(self.sidecars)
        last = suite.experiments[-1] if suite.experiments else None
        self.final_gate = (
            SettleGate(
                last.name,
                steady_state_of(last, variables),
                run_dir,
                timeout_s=suite.settle_timeout_s,
                stage="after",
            )
            if last is not None and suite.wait_budget_s > 0
            else None
        )

    def tick(self, elapsed_s: float) -> None:
        if self.watcher is not None:
            self.watcher.poll(elapsed_s)
        i = next((k for k, s in enumerate(self.sidecars) if s.proc is None), None)
        if i is None or self.sidecars[i].interrupted:
            return
        sidecar, gate = self.sidecars[i], self.gates[i]
        if i > 0:
            if not self.sidecars[i - 1].done:
                return
            sidecar.start_at_s = self.due_s(i)
            if elapsed_s < sidecar.start_at_s:
                return
        if gate is not None and not gate.poll(elapsed_s):
            return
        sidecar.tick(elapsed_s)
        if sidecar.proc is not None:
            self.started_s[i] = elapsed_s

    def due_s(self, i: int) -> float:
        """When experiment i may start: its planned start, moved by how late the one
        before it really started (an earlier wait for the steady state)."""
        if i == 0:
            return self.sidecars[0].start_at_s
        previous_start = self.started_s[i - 1]
        previous = self.suite.experiments[i - 1]
        if previous_start is None:
            return math.inf
        return (
            previous_start + previous.planned_method_s + previous.recovery_s + self.suite.cooldown_s
        )

    def stop_reason(self) -> str | None:
        """Every experiment skipped its method: no fault, so nothing left to observe
        (the recovery time planned after it would only delay the error verdict)."""
        if self.sidecars and all(s.skipped_method() for s in self.sidecars):
            return "the steady state was not met before the method: no fault was injected"
        return None

    def load_complete(self, elapsed_s: float) -> bool:
        """The last experiment's `chaos run` is over, so is its planned method and
        recovery (counted from when it really started), and the steady state held again
        after it (or that wait gave up): the load planned for the longest waits may end
        here. Never before `min_duration_s`; a suite without waits keeps its planned end."""
        last_start = self.started_s[-1] if self.started_s else None
        if self.final_gate is None or last_start is None or not self.sidecars[-1].done:
            return False
        last = self.suite.experiments[-1]
        end_s = last_start + last.planned_method_s + last.recovery_s
        if elapsed_s < max(end_s, self.min_duration_s):
            return False
        return self.final_gate.poll(elapsed_s)

    def interrupt(self) -> None:
        for sidecar in self.sidecars:
            sidecar.interrupt()

    def finish(self) -> list[ExperimentOutcome]:
        outcomes = []
        for i, sidecar in enumerate(self.sidecars):
            outcome = sidecar.finish()
            start = self.started_s[i]
            end = self.started_s[i + 1] if i + 1 < len(self.started_s) else None
            gate = self.gates[i]
            after = self.final_gate if i == len(self.sidecars) - 1 else None
            outcome = ExperimentOutcome.model_validate(
                {
                    **outcome.model_dump(),
                    # on the load's clock, from when it really started to when the next did
                    "span_s": [
                        sidecar.start_at_s if start is None else round(start, 1),
                        None if end is None else round(end, 1),
                    ],
                    "faults": injected_faults(_read_json(sidecar.journal_path)),
                    "steady_state_wait": gate.outcome() if gate is not None else None,
                    "steady_state_wait_after": after.outcome() if after is not None else None,
                }
            )
            sidecar.files.write_outcome(outcome, sidecar.suffix)
            outcomes.append(outcome)
        return outcomes


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
