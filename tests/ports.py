"""The loopback ports a test may pick for a server of its own (a service, a private
Toxiproxy, a Prometheus): 25000-25999 by default, below the ephemeral range so that no
client socket takes one, and away from the stack's and the private stacks' fixed ranges.

`make test` runs two pytest sessions at once (tests/lanes.py) and gives each half of
the range (``GAMEDAY_TEST_PORTS=25000-25499``), so that a port one session has probed
free cannot be taken by the other before its server binds it.
"""

from __future__ import annotations

import os

DEFAULT = (25000, 25999)


def private_ports() -> range:
    """This session's range, from ``GAMEDAY_TEST_PORTS`` ("LOW-HIGH", inclusive)."""
    low, high = DEFAULT
    spec = os.environ.get("GAMEDAY_TEST_PORTS")
    if spec:
        low_text, _, high_text = spec.partition("-")
        low, high = int(low_text), int(high_text)
    return range(low, high + 1)


def describe(ports: range) -> str:
    return f"{ports.start}-{ports.stop - 1}"
