"""gameday's Locust plugin: any Locust file gets the whole harness.

`gameday run` starts Locust with this package's locustfile first:

    locust -f gameday/plugin/locustfile.py,YOUR_LOCUSTFILE.py --gameday-config load-config.json

and the plugin, on Locust's `init` event, keeps the mix's user classes with the mix's
weights, adds the profile's headers to every request, records every request into exact
per-second HdrHistograms (merged on the master), writes the run directory, serves the
run's live metrics to Prometheus (gameday.plugin.live_metrics), and runs the run's load
shape. Under an open shape (`--rate`) it runs arrivals of your user classes
itself; see `arrival` and docs/locust-plugin.md.

The public API, for Locust files (it imports locust, so only in Locust's processes):

    from gameday.plugin import arrival, options

    options()          # the run's LoadConfig.options (what the profile's `options` hook made)
    @arrival           # open model: arrivals of this class run this method (see arrival)

Writes that should be reconciled go through `gameday.ledger` (no Locust import).
"""

from __future__ import annotations  # noqa: I001  (locust first, see below)

from typing import Any

import locust  # noqa: F401  (first: it monkey-patches the standard library)

from gameday.plugin import capture
from gameday.plugin.arrivals import arrival

__all__ = ["arrival", "options"]


def options() -> dict[str, Any]:
    """The run's `LoadConfig.options` (empty outside a gameday run, and before Locust's
    `init` event: read it in `on_start` or a task, not at import)."""
    if not capture.state.installed:
        return {}
    return capture.state.config.locust_options()
