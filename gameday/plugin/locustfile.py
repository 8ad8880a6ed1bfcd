"""The file `gameday run` passes to Locust first, before the target's own Locust files:

    locust -f gameday/plugin/locustfile.py,scenarios/locustfile.py --gameday-config PATH

It defines no user class; it registers the plugin on Locust's events (the option, and
`init`, where the run's LoadConfig is read) and the run's shape. Nothing else happens at
import time."""

from __future__ import annotations  # noqa: I001  (locust first, see below)

import locust  # noqa: F401  (first: it monkey-patches the standard library)

from locust import events

from gameday.plugin.configure import add_options, configure
from gameday.plugin.shape import RunShape

__all__ = ["RunShape"]  # Locust collects the shape from this module's namespace

events.init_command_line_parser.add_listener(add_options)
events.init.add_listener(configure)
