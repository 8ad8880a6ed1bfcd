"""Tokens the rate limiter has taken from Redis and not spent yet, per worker.

    book = LeaseBook(ttl_s=1.0)
    decision = book.spend(tenant, caller)               # None: no token here, ask Redis
    wanted = book.wanted(tenant, lease=20)              # how many to ask Redis for
    book.begin(tenant, wanted) ... book.end(tenant, wanted)   # around that round trip
    book.keep(tenant, caller, tokens=granted - 1, allowed=decision)

Every token here was charged to both Redis buckets (the tenant's and the caller's)
before it is spent. ``wanted`` keeps the unspent tokens of one tenant (all its callers
together, and the round trips in flight) at most ``lease - 1`` in this worker, which
bounds what the limiter admits beyond one shared bucket: ``workers x (lease - 1)``.
Tokens older than ``ttl_s`` are dropped, not spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.security.ratelimit import Decision

# A flood of distinct callers cannot grow the book without bound: past this many
# tenants, the expired ones are swept on the next refill.
_SWEEP_AT = 10_000


@dataclass
class _Lease:
    tokens: int
    expires_at: float
    taken_at: float
    allowed: Decision  # the bucket reported when it was taken, and its remaining


class LeaseBook:
    def __init__(self, *, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._leases: dict[str, dict[str, _Lease]] = {}  # tenant -> caller -> lease
        self._in_flight: dict[str, int] = {}  # tenant -> extra tokens asked for meanwhile

    def spend(self, tenant: str, caller: str) -> Decision | None:
        """One token of this caller's lease, as an allowed decision; None when none is
        left (or it expired)."""
        callers = self._leases.get(tenant)
        lease = callers.get(caller) if callers is not None else None
        if lease is None or lease.tokens <= 0:
            return None
        now = self._clock()
        if now >= lease.expires_at:
            lease.tokens = 0
            return None
        lease.tokens -= 1
        allowed = lease.allowed
        return replace(
            allowed,
            remaining=allowed.remaining + lease.tokens,
            reset_s=max(0.0, allowed.reset_s - (now - lease.taken_at)),
        )

    def held(self, tenant: str) -> int:
        """Unspent, unexpired tokens of the tenant here, and those asked for meanwhile."""
        now = self._clock()
        total = self._in_flight.get(tenant, 0)
        for lease in (self._leases.get(tenant) or {}).values():
            if lease.tokens > 0 and now < lease.expires_at:
                total += lease.tokens
        return total

    def wanted(self, tenant: str, *, lease: int) -> int:
        """Tokens to ask Redis for: one for this request, and as many more as keep the
        tenant's unspent tokens here at most ``lease - 1``."""
        return 1 + max(0, lease - 1 - self.held(tenant))

    def begin(self, tenant: str, wanted: int) -> None:
        self._in_flight[tenant] = self._in_flight.get(tenant, 0) + wanted - 1

    def end(self, tenant: str, wanted: int) -> None:
        left = self._in_flight.get(tenant, 0) - (wanted - 1)
        if left > 0:
            self._in_flight[tenant] = left
        else:
            self._in_flight.pop(tenant, None)

    def keep(self, tenant: str, caller: str, *, tokens: int, allowed: Decision) -> None:
        """The tokens granted beyond this request's one, with the decision Redis gave."""
        if len(self._leases) > _SWEEP_AT:
            self._sweep()
        now = self._clock()
        callers = self._leases.setdefault(tenant, {})
        lease = callers.get(caller)
        if lease is not None and lease.tokens > 0 and now < lease.expires_at:
            tokens += lease.tokens  # a concurrent round trip's tokens: still within held()
        callers[caller] = _Lease(
            tokens=tokens, expires_at=now + self._ttl_s, taken_at=now, allowed=allowed
        )

    def _sweep(self) -> None:
        now = self._clock()
        for tenant in list(self._leases):
            callers = self._leases[tenant]
            for caller in [c for c, lease in callers.items() if now >= lease.expires_at]:
                del callers[caller]
            if not callers:
                del self._leases[tenant]
