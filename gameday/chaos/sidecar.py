"""Experiments one after another beside the load, on the load's clock
(`SuiteSidecar`): each one run by an `ExperimentSidecar` (gameday.chaos.experiment_sidecar),
started once due and once the steady state holds again, with the target's breakers
watched from its signals (gameday.chaos.breakers) and its alerts from its Prometheus
(gameday.chaos.alerts, when the profile names one) the whole time.
"""

from __future__ import annotations

import math
from pathlib import Path

from gameday.chaos.alerts import AlertWatcher
from gameday.chaos.breakers import BreakerWatcher
from gameday.chaos.configuration import chaos_configuration, moved_metrics_url, reference_signals
from gameday.chaos.experiment_sidecar import (
    FAULT_MODULES,
    ExperimentSidecar,
    LeftoverFaults,
    injected_faults,
    read_journal,
)
from gameday.chaos.named_proxies import named_proxies, proxies_named
from gameday.chaos.settle import SettleGate, steady_state_of
from gameday.chaos.suite import Suite
from gameday.rundir import ExperimentOutcome
from gameday.settings import StackSettings
from gameday.target import TargetProfile

__all__ = [
    "FAULT_MODULES",
    "ExperimentSidecar",
    "LeftoverFaults",
    "SuiteSidecar",
    "injected_faults",
    "named_proxies",
    "proxies_named",
]


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
        self.alerts: AlertWatcher | None = None
        if profile is not None and profile.alerts is not None:
            self.alerts = AlertWatcher(
                profile.alerts.prometheus_url,
                run_dir,
                poll_interval_s=profile.alerts.poll_interval_s,
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
        if self.alerts is not None:
            self.alerts.poll(elapsed_s)
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
                    "faults": injected_faults(read_journal(sidecar.journal_path)),
                    "steady_state_wait": gate.outcome() if gate is not None else None,
                    "steady_state_wait_after": after.outcome() if after is not None else None,
                }
            )
            sidecar.files.write_outcome(outcome, sidecar.suffix)
            outcomes.append(outcome)
        return outcomes
