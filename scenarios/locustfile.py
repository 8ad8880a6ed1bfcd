"""The reference service's Locust file (targets/reference.yaml names it): its user
classes, ordinary Locust users. `gameday run` starts it after gameday's plugin,

    locust -f gameday/plugin/locustfile.py,scenarios/locustfile.py --gameday-config PATH

and the plugin keeps the classes the run's mix names. Nothing happens at import time."""

from __future__ import annotations

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import sys
from pathlib import Path

# Locust imports this file by path; make the repository importable (scenarios.*).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scenarios.users import Abuser, Autocompleter, Prober, Reader, Searcher, Writer  # noqa: E402

__all__ = ["Abuser", "Autocompleter", "Prober", "Reader", "Searcher", "Writer"]
