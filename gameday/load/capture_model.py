"""What the Locust processes record per second and ship to the master.

Pure data and merge logic (no Locust import), so it is unit-testable and the
report can reuse it. A worker's `Recorder` accumulates a delta since its last
report; the master's `Store` merges deltas from every worker: histogram counts
add, so merged percentiles are exact to HDR precision.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from gameday import histograms

EXEMPLARS_PER_SECOND = 3
FAILURE_KINDS = ("fail_5xx", "fail_4xx", "fail_connection", "fail_timeout")
# What counts as an error, everywhere (the report, the error-rate objectives, compare,
# live.json's `errors` and the live progress line): the target failed to answer (5xx, a
# refused or reset connection, a timeout). A 4xx answer is a failed request but not an
# error of the target (an unknown document, a rejected write, the rate limiter): it is
# counted as `fail_4xx` and shown apart.
SERVER_ERROR_KINDS = ("fail_5xx", "fail_connection", "fail_timeout")
CLIENT_ERROR_KIND = "fail_4xx"
_offers = itertools.count()  # breaks ties between offered exemplars of equal latency


def server_errors(kinds: Mapping[str, int]) -> int:
    """The errors among a bucket's failures (`Bucket.kinds`): SERVER_ERROR_KINDS."""
    return sum(int(kinds.get(kind, 0)) for kind in SERVER_ERROR_KINDS)


@dataclass
class Bucket:
    """One endpoint in one second."""

    histogram: HdrHistogram = field(default_factory=histograms.new_histogram)
    requests: int = 0
    failures: int = 0
    kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAILURE_KINDS, 0))
    degraded: int = 0  # successful answers that said `X-Degraded` (a fallback served them)
    exemplars: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    # Worker side: the slowest requests so far, their details not built yet (`settle`).
    offered: list[tuple[float, int, str, Callable[[], dict[str, Any]]]] = field(
        default_factory=list, repr=False, compare=False
    )

    def offer_exemplar(
        self, latency_ms: float, request_id: str, details: Callable[[], dict[str, Any]]
    ) -> None:
        """Keeps the request if it is among the slowest of its second so far; `details`
        runs only for those still kept when the bucket is shipped: when a generator falls
        behind, every request of an open model is the slowest so far (its latency counts
        from when it was due), and building each one's details made it fall further."""
        item = (latency_ms, next(_offers), request_id, details)
        if len(self.offered) < EXEMPLARS_PER_SECOND:
            heapq.heappush(self.offered, item)
        elif latency_ms > self.offered[0][0]:
            heapq.heapreplace(self.offered, item)

    def settle(self) -> None:
        """Builds the offered exemplars' details. Their dict may carry `request_id`
        (when finding it costs: a request header), which then replaces the offered one."""
        for latency_ms, _, request_id, details in self.offered:
            try:
                fields = details()
            except Exception:  # nothing to show for this one; the counts are recorded,
                continue  # and the delta must still ship
            self.add_exemplar(latency_ms, str(fields.pop("request_id", request_id)), fields)
        self.offered = []

    def add_exemplar(self, latency_ms: float, request_id: str, fields: dict[str, Any]) -> None:
        # Items compare as tuples: an equal (latency, request id) would compare the dicts
        # and raise TypeError (in heapq here, in sorted() when written). Such a twin adds
        # nothing, so it is skipped.
        if any(e[0] == latency_ms and e[1] == request_id for e in self.exemplars):
            return
        item = (latency_ms, request_id, fields)
        if len(self.exemplars) < EXEMPLARS_PER_SECOND:
            heapq.heappush(self.exemplars, item)
        elif latency_ms > self.exemplars[0][0]:
            heapq.heapreplace(self.exemplars, item)

    def to_wire(self) -> dict[str, Any]:
        return {
            "h": histograms.encode(self.histogram),
            "n": self.requests,
            "f": self.failures,
            "k": self.kinds,
            "d": self.degraded,
            "x": [list(e) for e in self.exemplars],
        }

    def merge_wire(self, wire: dict[str, Any]) -> None:
        self.histogram.add(histograms.decode(wire["h"]))
        self.requests += int(wire["n"])
        self.failures += int(wire["f"])
        self.degraded += int(wire.get("d", 0))
        for kind, count in wire["k"].items():
            self.kinds[kind] = self.kinds.get(kind, 0) + int(count)
        for latency_ms, request_id, fields in wire["x"]:
            self.add_exemplar(float(latency_ms), str(request_id), dict(fields))


@dataclass
class Generator:
    """The generator's view of itself in one second (one worker's, or summed)."""

    late_starts: int = 0
    target_rps: float = 0.0
    in_flight: int = 0


@dataclass
class MergedGenerator:
    """Per second over all workers: a worker's rate share and peak in-flight
    are kept per worker, so a second split across two reports counts once."""

    late_starts: int = 0
    target_by_worker: dict[str, float] = field(default_factory=dict)
    in_flight_by_worker: dict[str, int] = field(default_factory=dict)

    @property
    def target_rps(self) -> float:
        return sum(self.target_by_worker.values())

    @property
    def in_flight(self) -> int:
        return sum(self.in_flight_by_worker.values())


class Recorder:
    """Worker side: what happened since the last report."""

    def __init__(self) -> None:
        self.buckets: dict[int, dict[str, Bucket]] = {}
        self.generator: dict[int, Generator] = {}
        self.ledger: list[dict[str, Any]] = []
        # updates and deletes sent and not yet answered, by request id: what is still here
        # when the load stops may or may not have been applied
        self.unconfirmed: dict[str, dict[str, Any]] = {}
        self.total_requests = 0

    def record(
        self,
        *,
        second: int,
        endpoint: str,
        latency_ms: float,
        failure_kind: str | None,
        request_id: str = "",
        exemplar: Callable[[], dict[str, Any]],
        degraded: bool = False,
    ) -> None:
        """`exemplar` builds the request's details, only if it is among the slowest
        of its second when the delta is taken (`Bucket.offer_exemplar`)."""
        endpoints = self.buckets.get(second)
        if endpoints is None:
            endpoints = self.buckets[second] = {}
        bucket = endpoints.get(endpoint)
        if bucket is None:  # not setdefault: a Bucket allocates a whole histogram
            bucket = endpoints[endpoint] = Bucket()
        histograms.record_ms(bucket.histogram, latency_ms)
        bucket.requests += 1
        self.total_requests += 1
        if failure_kind is not None:
            bucket.failures += 1
            bucket.kinds[failure_kind] += 1
        elif degraded:
            bucket.degraded += 1
        bucket.offer_exemplar(latency_ms, request_id, exemplar)

    def note_generator(
        self,
        second: int,
        *,
        late_starts: int = 0,
        target_rps: float | None = None,
        in_flight: int | None = None,
    ) -> None:
        gen = self.generator.get(second)
        if gen is None:  # not setdefault: an overloaded open model notes every arrival
            gen = self.generator[second] = Generator()
        gen.late_starts += late_starts
        if target_rps is not None:
            gen.target_rps = target_rps
        if in_flight is not None:
            gen.in_flight = max(gen.in_flight, in_flight)

    def take_delta(self) -> dict[str, Any]:
        for endpoints in self.buckets.values():
            for bucket in endpoints.values():
                bucket.settle()
        delta = {
            "buckets": {
                str(sec): {ep: b.to_wire() for ep, b in eps.items()}
                for sec, eps in self.buckets.items()
            },
            "generator": {
                str(sec): [g.late_starts, g.target_rps, g.in_flight]
                for sec, g in self.generator.items()
            },
            "ledger": self.ledger,
            "unconfirmed": list(self.unconfirmed.values()),  # a snapshot: not cleared
            "total_requests": self.total_requests,
        }
        self.buckets, self.generator, self.ledger = {}, {}, []
        return delta


class Store:
    """Master side: every worker's deltas merged, keyed by epoch second."""

    def __init__(self) -> None:
        self.buckets: dict[int, dict[str, Bucket]] = {}
        self.generator: dict[int, MergedGenerator] = {}
        self.ledger: list[dict[str, Any]] = []
        self.worker_totals: dict[str, int] = {}
        self.unconfirmed_by_worker: dict[str, list[dict[str, Any]]] = {}
        self.changed: set[int] = set()  # seconds merged into since the last live snapshot

    def merge(self, delta: dict[str, Any], worker: str = "local") -> None:
        for sec, eps in delta["buckets"].items():
            self.changed.add(int(sec))
            target = self.buckets.setdefault(int(sec), {})
            for endpoint, wire in eps.items():
                if endpoint not in target:
                    target[endpoint] = Bucket()
                target[endpoint].merge_wire(wire)
        for sec, (late, target_rps, in_flight) in delta["generator"].items():
            gen = self.generator.setdefault(int(sec), MergedGenerator())
            gen.late_starts += int(late)
            if target_rps:
                gen.target_by_worker[worker] = float(target_rps)
            previous = gen.in_flight_by_worker.get(worker, 0)
            gen.in_flight_by_worker[worker] = max(previous, int(in_flight))
        self.ledger.extend(delta["ledger"])
        self.unconfirmed_by_worker[worker] = list(delta.get("unconfirmed", []))
        self.worker_totals[worker] = int(delta["total_requests"])

    @property
    def unconfirmed(self) -> list[dict[str, Any]]:
        """Each worker's writes unanswered at its last report."""
        return [w for writes in self.unconfirmed_by_worker.values() for w in writes]

    def total_requests(self) -> int:
        return sum(b.requests for eps in self.buckets.values() for b in eps.values())
