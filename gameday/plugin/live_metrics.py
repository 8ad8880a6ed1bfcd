"""The run's live metrics endpoint: the Locust master (or the one local process) serves
`gameday.load.live_metrics.LiveCollector` as Prometheus text on
`http://HOST:PORT/metrics` from the load's start to its end, on gevent's own WSGI server
(no thread: the collector reads the store between two greenlet switches, so it never sees
a half-merged report). The stack's Prometheus scrapes it (job `gameday`).

    server = serve(collector, host="127.0.0.1", port=29091)   # None: the port was taken
    ...
    stop(server)

A port already in use must not cost the run: one warning in the Locust log, no endpoint.
"""

from __future__ import annotations  # noqa: I001  (locust first, see below)

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import logging

from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


def serve(collector: Collector, *, host: str, port: int) -> WSGIServer | None:
    """Listening when it returns, or None (and one warning) when it cannot listen."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    # log=None: no access line per scrape (one a second) in the Locust log
    server = WSGIServer((host, port), make_wsgi_app(registry), log=None)
    try:
        server.start()
    except OSError as exc:
        log.warning(
            "no live metrics endpoint: cannot listen on %s:%d (%s); the run goes on",
            host,
            port,
            exc.strerror or exc,
        )
        return None
    return server


def stop(server: WSGIServer | None) -> None:
    if server is not None:
        server.stop(timeout=1.0)


__all__ = ["serve", "stop"]
