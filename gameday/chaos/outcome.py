"""Moved to `gameday.rundir` (the run directory's contract). This alias is kept only
while other modules move their imports; import from `gameday.rundir`."""

from __future__ import annotations

from gameday.rundir import ExperimentOutcome, RollbackOutcome, SteadyStateWait

__all__ = ["ExperimentOutcome", "RollbackOutcome", "SteadyStateWait"]
