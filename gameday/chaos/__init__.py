"""Fault injection: the Toxiproxy client (more providers arrive with the chaos work)."""

from gameday.chaos.toxiproxy import Proxy, Toxic, ToxiproxyClient

__all__ = ["Proxy", "Toxic", "ToxiproxyClient"]
