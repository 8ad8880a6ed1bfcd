"""The fault matrix's grid, judged from the summary: matrix.json is a view of
summary.json. One word per cell (docs/experiments.md):

- held: the SLOs never broke in the fault window;
- degraded: they broke but recovered within the window's RTO objective;
- breached: they broke and did not recover within it;
- data lost: acknowledged writes went missing in the window;
- not judged: the cell's experiment proved nothing (its steady state was not met
  before its method), or its fault never made a window.

    table = matrix_grid(summary, cells)   # dependency -> fault -> word
"""

from __future__ import annotations

import json

from gameday.report.resilience import owner_of
from gameday.report.summary import ExperimentSummary, Summary


def matrix_grid(summary: Summary, cells: dict[str, tuple[str, str]]) -> dict[str, dict[str, str]]:
    """`cells`: the fault's name on the timeline -> (dependency, fault)."""
    words = {
        cells[window.name]: _word(summary, window)
        for window in summary.experiments
        if window.name in cells
    }
    table: dict[str, dict[str, str]] = {}
    for cell in cells.values():
        table.setdefault(cell[0], {})[cell[1]] = words.get(cell, "not judged")
    return table


def render_matrix_json(table: dict[str, dict[str, str]]) -> str:
    return json.dumps(table, indent=2) + "\n"


def _word(summary: Summary, window: ExperimentSummary) -> str:
    owner = owner_of(window.name, window.injected_s, summary.outcomes)
    outcome = next((o for o in summary.outcomes if o.name == owner), None)
    if outcome is not None and outcome.verdict == "error":
        return "not judged"
    own = [o for o in summary.objectives if o.experiment == owner and owner is not None]
    rto_met = any(
        o.metric == "rto_s" and o.phase == f"fault:{window.name}" and o.passed for o in own
    )
    if (window.lost_writes or 0) > 0:
        return "data lost"
    if not window.breach_s:
        return "held"
    return "degraded" if rto_met else "breached"
