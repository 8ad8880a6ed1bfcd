"""A small real HTTP server for signals tests: a Prometheus text endpoint (/metrics) and
a Prometheus server's instant query API (/api/v1/query), each answering what the test
sets, on a free port, in a thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class MetricsServer:
    url: str
    text: str = ""
    # PromQL query -> the series of its answer ({"metric": {...}, "value": [t, "v"]})
    series: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)


@contextmanager
def metrics_server() -> Iterator[MetricsServer]:
    state = MetricsServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parsed = urlparse(self.path)
            if parsed.path == "/metrics":
                body, kind = state.text.encode(), "text/plain; version=0.0.4"
            elif parsed.path == "/api/v1/query":
                query = parse_qs(parsed.query)["query"][0]
                state.queries.append(query)
                answer = {
                    "status": "success",
                    "data": {"resultType": "vector", "result": state.series.get(query, [])},
                }
                body, kind = json.dumps(answer).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
