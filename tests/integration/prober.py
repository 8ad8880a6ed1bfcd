"""An independent availability prober: a second opinion on what a chaos run measured.

It shares nothing with the harness: the standard library only (``http.client``,
``threading``), no import from ``gameday``, ``service`` or ``scenarios``, and it never
reads what the harness reads (``/metrics``, ``service_breaker_state``, ``live.json``,
``events.jsonl``, ``timeseries.csv``). It sends its own searches, in its own process,
and judges only its own answers.

The process (what a test starts; the test mints the token, the prober only reads it)::

    python tests/integration/prober.py --url http://127.0.0.1:26000 \\
        --token-file token.txt --out probes.jsonl --interval 0.2

Every ``--interval`` seconds it sends one ``GET --path`` (a new connection each time,
``--timeout`` seconds at most, in its own thread so a hung request never delays the
next), alternating a few fixed queries (``--query``, cached by the service once
answered) with a random query no one asked before (so the search engine must answer
it). One JSON line per answer, flushed at once::

    {"t": 1767225600.123, "kind": "uncached", "q": "...", "status": 503,
     "latency_ms": 3.1, "degraded": null, "retry_after": "27", "error": null}

``t`` is ``time.time()`` when the request was sent; ``degraded`` the ``X-Degraded``
header (the service's stale-cache fallback); ``error`` ``timeout``, ``connection`` or
``protocol`` when no HTTP answer came (``status`` null). SIGTERM or SIGINT stops it
after the requests in flight; ``--duration`` too.

The analysis is pure (records in, windows out), for the unit tests and the chaos tests::

    windows = infer_windows(read_probes(path), sustained_s=10)
    outage = windows.outage           # the longest episode: start, last_bad, recovered_at
    windows.breaker_open              # first to last fast 503 / X-Degraded answer in it

Each answer is one of:

- ``healthy``: 2xx, no ``X-Degraded``, within ``slow_ms``;
- ``degraded``: 2xx with ``X-Degraded`` (a stale answer: the engine is failing or its
  breaker is open);
- ``refused``: a 503 within ``fast_ms``, well under the service's 0.8 s search timeout:
  refused at once, as an open breaker does (an engine call that failed after its
  retries takes longer);
- ``slow``: 2xx later than ``slow_ms``; ``failed``: anything else (a slow 503, another
  status, no answer).

An *outage* starts at the first answer that is not healthy and ends at the last one
before ``recovered_at``: the first healthy answer from which every answer is healthy for
``sustained_s`` seconds, with no gap longer than ``max_gap_s`` between answers (a prober
that could not send is no evidence of health). The *breaker-open window* of an outage
runs from its first ``refused`` or ``degraded`` answer to its last. All times are
wall-clock seconds (epoch), at the resolution of the interval.

Comparing with the harness: ``tests/integration/prober_crosscheck.py`` turns a run
directory's load-clock times into the same wall clock (``epoch = load start epoch +
t_s``; every event carries both, so the load start is ``epoch - t_s`` of any event) and
checks, within a tolerance:

- recovery: the prober's ``recovered_at`` against the harness's ``injected + rto_s``
  (``summary.json``'s experiment, fault injection from ``events.jsonl``);
- the breaker: the prober's ``breaker_open.start`` / ``.end`` against the first
  ``breaker_transition`` to ``open`` after the injection and the first out of ``open``
  after the removal (half-open answers its trial calls).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

Verdict = Literal["healthy", "degraded", "refused", "slow", "failed"]

DEFAULT_QUERIES = ("prober alpha", "prober beta", "prober gamma")
FAST_MS = 250.0  # a 503 quicker than this was refused, not tried (search timeout: 800 ms)
SLOW_MS = 1000.0


# ---------------------------------------------------------------- records and analysis


@dataclass(frozen=True)
class Probe:
    """One request and its answer."""

    t: float  # wall clock when sent
    status: int | None
    latency_ms: float
    degraded: str | None = None
    error: str | None = None
    kind: str = "fixed"

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Probe:
        return cls(
            t=float(row["t"]),
            status=row.get("status"),
            latency_ms=float(row["latency_ms"]),
            degraded=row.get("degraded"),
            error=row.get("error"),
            kind=str(row.get("kind", "fixed")),
        )


def read_probes(path: Path) -> list[Probe]:
    """The answers in a prober's output (a partly written last line is skipped)."""
    probes = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "t" in row and "latency_ms" in row:
            probes.append(Probe.from_json(row))
    return probes


def judge(probe: Probe, *, fast_ms: float = FAST_MS, slow_ms: float = SLOW_MS) -> Verdict:
    status = probe.status
    if status is not None and 200 <= status < 300:
        if probe.degraded:
            return "degraded"
        return "healthy" if probe.latency_ms <= slow_ms else "slow"
    if status == 503 and probe.latency_ms < fast_ms:
        return "refused"
    return "failed"


@dataclass(frozen=True)
class Span:
    start: float
    end: float
    refused: int = 0
    degraded: int = 0

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Outage:
    start: float  # the first answer that was not healthy
    last_bad: float  # the last one before recovery
    recovered_at: float | None  # None: never healthy for sustained_s before the records end
    counts: dict[str, int] = field(default_factory=dict)  # verdict -> answers in the outage
    breaker_open: Span | None = None

    @property
    def duration_s(self) -> float:
        return self.last_bad - self.start


@dataclass(frozen=True)
class Windows:
    outages: list[Outage]
    first_t: float | None
    last_t: float | None
    answers: int

    @property
    def outage(self) -> Outage | None:
        """The longest episode (a lone blip elsewhere does not move it)."""
        return max(self.outages, key=lambda o: o.duration_s, default=None)

    @property
    def breaker_open(self) -> Span | None:
        outage = self.outage
        return None if outage is None else outage.breaker_open

    def outage_after(self, t: float) -> Outage | None:
        """The first outage still going on at ``t`` (a fault's start) or after it: the
        harness too counts the first sustained recovery after the fault."""
        return next((o for o in self.outages if o.recovered_at is None or o.recovered_at > t), None)

    def recovery_after(self, t: float) -> float | None:
        """Seconds from ``t`` to the recovery from :meth:`outage_after`: 0.0 when there is
        no such outage; None when it never recovered."""
        outage = self.outage_after(t)
        if outage is None:
            return 0.0
        return None if outage.recovered_at is None else max(0.0, outage.recovered_at - t)


def infer_windows(
    probes: Iterable[Probe],
    *,
    sustained_s: float = 10.0,
    fast_ms: float = FAST_MS,
    slow_ms: float = SLOW_MS,
    max_gap_s: float = 1.0,
) -> Windows:
    """Outages and breaker-open windows from the prober's own answers (see the module)."""
    ordered = sorted(probes, key=lambda p: p.t)
    verdicts = [judge(p, fast_ms=fast_ms, slow_ms=slow_ms) for p in ordered]
    outages: list[Outage] = []
    i, n = 0, len(ordered)
    while i < n:
        if verdicts[i] == "healthy":
            i += 1
            continue
        start, last_bad, recovered = i, i, None
        j = i + 1
        while j < n:
            if verdicts[j] != "healthy":
                last_bad, j = j, j + 1
                continue
            end_of_run = _healthy_run_end(ordered, verdicts, j, sustained_s, max_gap_s)
            if end_of_run is None:  # the records end inside the run: not yet recovered
                break
            ok, k = end_of_run
            if ok:
                recovered = j
                break
            j = k  # a bad answer or a gap at k: the outage goes on
        outages.append(_outage(ordered, verdicts, start, last_bad, recovered))
        i = recovered if recovered is not None else n
    return Windows(
        outages=outages,
        first_t=ordered[0].t if ordered else None,
        last_t=ordered[-1].t if ordered else None,
        answers=n,
    )


def _healthy_run_end(
    probes: Sequence[Probe],
    verdicts: Sequence[Verdict],
    j: int,
    sustained_s: float,
    max_gap_s: float,
) -> tuple[bool, int] | None:
    """From the healthy answer j: (True, _) when answers stay healthy and gap-free for
    ``sustained_s``; (False, k) at the first bad answer or gap (k: where to go on);
    None when the records end first."""
    until = probes[j].t + sustained_s
    k = j + 1
    while k < len(probes):
        if probes[k].t - probes[k - 1].t > max_gap_s:
            return False, k
        if probes[k].t >= until:
            return True, k
        if verdicts[k] != "healthy":
            return False, k
        k += 1
    return None


def _outage(
    probes: Sequence[Probe],
    verdicts: Sequence[Verdict],
    start: int,
    last_bad: int,
    recovered: int | None,
) -> Outage:
    counts: dict[str, int] = {}
    for v in verdicts[start : last_bad + 1]:
        counts[v] = counts.get(v, 0) + 1
    signs = [k for k in range(start, last_bad + 1) if verdicts[k] in ("refused", "degraded")]
    breaker = None
    if signs:
        breaker = Span(
            start=probes[signs[0]].t,
            end=probes[signs[-1]].t,
            refused=sum(verdicts[k] == "refused" for k in signs),
            degraded=sum(verdicts[k] == "degraded" for k in signs),
        )
    return Outage(
        start=probes[start].t,
        last_bad=probes[last_bad].t,
        recovered_at=None if recovered is None else probes[recovered].t,
        counts=counts,
        breaker_open=breaker,
    )


# ---------------------------------------------------------------- the process


class _Prober:
    def __init__(self, args: argparse.Namespace, token: str) -> None:
        url = urllib.parse.urlsplit(args.url)
        self.host, self.port = url.hostname or "", url.port or 80
        self.path = args.path
        self.queries: list[str] = args.query or list(DEFAULT_QUERIES)
        self.uncached = args.uncached
        self.timeout_s = args.timeout
        self.headers = {"Authorization": f"Bearer {token}", "X-Synthetic": "prober"}
        self.out = open(args.out, "a", buffering=1)  # line-buffered; closed by run()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.slots = threading.BoundedSemaphore(max(4, math.ceil(args.timeout / args.interval) + 4))

    def request(self, kind: str, q: str | None) -> None:
        target = self.path if q is None else f"{self.path}?{urllib.parse.urlencode({'q': q})}"
        record: dict[str, Any] = {"t": round(time.time(), 6), "kind": kind, "q": q}
        status = degraded = retry_after = error = None
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            conn.request("GET", target, headers=self.headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            degraded = response.getheader("X-Degraded")
            retry_after = response.getheader("Retry-After")
        except TimeoutError:  # socket.timeout is TimeoutError; checked before OSError
            error = "timeout"
        except OSError:  # refused, reset, RemoteDisconnected
            error = "connection"
        except http.client.HTTPException:
            error = "protocol"
        finally:
            conn.close()
            self.slots.release()
        record.update(
            status=status,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            degraded=degraded,
            retry_after=retry_after,
            error=error,
        )
        with self.lock:
            if not self.out.closed:  # a request that outlived the stop is not recorded
                self.out.write(json.dumps(record) + "\n")

    def run(self, interval_s: float, duration_s: float | None) -> None:
        ends = None if duration_s is None else time.monotonic() + duration_s
        tick = fixed = 0
        next_at = time.monotonic()
        threads: list[threading.Thread] = []
        while not self.stop.is_set() and (ends is None or time.monotonic() < ends):
            if self.uncached and tick % 2 == 1:
                kind, q = "uncached", f"prober {uuid.uuid4().hex}"
            elif self.queries:
                kind, q = "fixed", self.queries[fixed % len(self.queries)]
                fixed += 1
            else:
                kind, q = "plain", None
            self.slots.acquire()
            thread = threading.Thread(target=self.request, args=(kind, q), daemon=True)
            thread.start()
            threads = [t for t in threads if t.is_alive()] + [thread]
            tick += 1
            next_at = max(next_at + interval_s, time.monotonic())
            self.stop.wait(max(0.0, next_at - time.monotonic()))
        for thread in threads:
            thread.join(self.timeout_s + 1)
        with self.lock:
            self.out.close()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line naming the problem, exit 2 (argparse would print its usage too)."""
        sys.stderr.write(f"prober: {message}\n")
        raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the service, http://HOST:PORT")
    parser.add_argument("--path", default="/v1/search")
    parser.add_argument("--token-file", type=Path, required=True, help="a bearer token")
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between requests")
    parser.add_argument("--timeout", type=float, default=2.0, help="per request, seconds")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds (default: until SIGTERM)"
    )
    parser.add_argument("--query", action="append", help="a fixed query (repeatable)")
    parser.add_argument(
        "--no-uncached", dest="uncached", action="store_false", help="fixed queries only"
    )
    args = parser.parse_args(argv)
    url = urllib.parse.urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        parser.error(f"--url must be http://HOST:PORT, not {args.url!r}")
    if args.interval <= 0 or args.timeout <= 0:
        parser.error("--interval and --timeout must be positive seconds, e.g. --interval 0.2")
    try:
        token = args.token_file.read_text().strip()
    except OSError as exc:
        parser.error(f"cannot read --token-file {args.token_file}: {exc.strerror}")
    if not token:
        parser.error(f"--token-file {args.token_file} is empty; write a bearer token into it")
    try:
        prober = _Prober(args, token)
    except OSError as exc:
        parser.error(f"cannot write --out {args.out}: {exc.strerror}")
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: prober.stop.set())
    prober.run(args.interval, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
