"""The application layer between the command line and the engines: a `RunPlan`
goes into `run_session`, which returns a `RunOutcome`; the report alone decides
its verdict. Nothing here prints: progress goes to a callback.

    plan = build_plan(scenario="search_mix", rate=20, duration="1m", ...)
    outcome = run_session(plan, on_progress=render)
    sys.exit(outcome.exit_code)
"""

from gameday.app.plan import RunPlan, build_plan
from gameday.app.session import (
    LoadEnded,
    LoadStarting,
    LoadTick,
    Note,
    OnProgress,
    Progress,
    RunOutcome,
    run_session,
    slo_variables,
    validate_plan,
)

__all__ = [
    "LoadEnded",
    "LoadStarting",
    "LoadTick",
    "Note",
    "OnProgress",
    "Progress",
    "RunOutcome",
    "RunPlan",
    "build_plan",
    "run_session",
    "slo_variables",
    "validate_plan",
]
