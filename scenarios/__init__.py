"""Locust traffic models. Only `locustfile.py` (and modules it imports after
`import locust`) may import Locust: it monkey-patches the standard library, so
it runs in its own processes, started by `gameday run`, never in pytest.
`shapes/` is pure arithmetic and is unit-tested without Locust."""
