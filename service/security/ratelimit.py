"""Rate limits per tenant and per caller (API key, or the token's subject), in Redis.

    limiter = RateLimiter(settings.ratelimit, redis_client, prefix="gd:", guard=guards["redis"],
                          redis_timeout_s=0.1)
    decision = await limiter.check(principal, write=False)   # a Redis round trip per lease
    if not decision.allowed: raise RateLimited(...)

A token bucket per limit, written as GCRA (the generic cell rate algorithm: one
"theoretical arrival time" per bucket, which is a token bucket with ``rate_rps`` and
``burst`` stored in one number). The ``limits`` library has fixed, moving and sliding
windows but no token bucket, and it checks one limit per round trip; here both buckets
(the tenant's and the caller's) are checked and charged in one Lua script (EVALSHA),
atomic, on Redis's clock (``TIME``) so every worker agrees. A refused request charges
neither bucket.

Leases (reads only): one round trip takes up to ``lease`` tokens from both buckets (fewer
when the buckets hold fewer; at least one or a refusal), and the worker spends them
locally, one per request, for at most ``LEASE_TTL_S``; what is left then is dropped,
never given back. ``lease = min(SERVICE_RATELIMIT_LEASE_MAX_TOKENS, smaller burst // 50)``,
at least 1: a bucket with a burst under 100 is charged one round trip per request, as
before. Every token spent was charged in Redis first, so the buckets never count less
than was admitted; a worker keeps at most ``lease - 1`` unspent tokens per tenant (and
per caller), so over any interval the requests admitted exceed what one shared bucket
would admit by at most ``workers x (lease - 1)`` (38 with 2 workers and the default
lease of 20). ``RateLimit-Remaining`` is the bucket's as of the last lease plus the
tokens this worker still holds.

Writes take no lease: each is charged in Redis on its own, so a write is refused (503,
``closed``) the moment Redis cannot count it, even while reads of the same caller still
hold leased tokens.

Redis unreachable (timeout, refused, its breaker open): reads (when they need a new
lease) and writes each follow their setting, ``open`` (let through) or ``closed`` (503).
With the breaker open, a ``closed`` request still tries Redis once, so writes come back
the moment Redis does instead of waiting out the breaker's open state.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import redis.asyncio as aioredis
from fastapi import Request

from service import metrics
from service.deps.guards import redis_failure
from service.exceptions import DependencyUnavailable, RateLimited
from service.resilience import BreakerOpen, Guard
from service.security.leases import LeaseBook
from service.settings import RateLimitSettings
from service.tenants.schemas import Principal

Outcome = Literal[
    "allowed", "rejected", "disabled", "redis_unavailable_open", "redis_unavailable_closed"
]
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

log = logging.getLogger(__name__)

# KEYS: the tenant's bucket, the caller's bucket.
# ARGV: interval_us and burst of each, in the same order, then the tokens wanted (>= 1).
# Returns {allowed, which (1 tenant, 2 caller), remaining, reset_us, retry_after_us, granted}:
# granted = min(wanted, what each bucket holds); none (a refusal) charges neither bucket.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wanted = tonumber(ARGV[5])
local tats = {}
for i = 1, 2 do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local allow_at = tat + interval - burst * interval
  if now < allow_at then
    return {0, i, 0, tat - now, allow_at - now, 0}
  end
  tats[i] = tat
  local held = math.floor((now - allow_at) / interval) + 1
  if held < wanted then wanted = held end
end
local which, remaining, reset = 1, nil, 0
for i = 1, 2 do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local new_tat = tats[i] + wanted * interval
  local left = math.floor((now - (new_tat - burst * interval)) / interval)
  if remaining == nil or left < remaining then
    which, remaining, reset = i, left, new_tat - now
  end
  redis.call('SET', KEYS[i], string.format('%.0f', new_tat),
             'PX', math.ceil((new_tat - now) / 1000) + 1000)
end
return {1, which, remaining, reset, 0, wanted}
"""
LEASE_TTL_S = 1.0  # unspent leased tokens are dropped after this long


@dataclass(frozen=True)
class Quota:
    """A token bucket: ``rate_rps`` tokens a second, at most ``burst`` saved up."""

    rate_rps: float
    burst: int

    @property
    def interval_us(self) -> int:
        return max(1, round(1_000_000 / self.rate_rps))


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    limit: str = ""  # "tenant" or "caller": the bucket reported (the refusing one)
    quota: Quota | None = None
    remaining: int = 0
    reset_s: float = 0.0  # until that bucket is full again
    retry_after_s: float = 0.0

    @property
    def allowed(self) -> bool:
        return self.outcome not in ("rejected", "redis_unavailable_closed")

    def headers(self) -> list[tuple[bytes, bytes]]:
        """IETF RateLimit-* fields (draft-ietf-httpapi-ratelimit-headers), Retry-After."""
        if self.quota is None:
            return []
        out = [
            (b"ratelimit-limit", str(self.quota.burst).encode()),
            (b"ratelimit-remaining", str(max(0, self.remaining)).encode()),
            (b"ratelimit-reset", str(math.ceil(self.reset_s)).encode()),
        ]
        if self.outcome == "rejected":
            out.append((b"retry-after", str(max(1, math.ceil(self.retry_after_s))).encode()))
        return out


# A round trip in flight for one caller: (was it a write, its decision or None).
_Refill = asyncio.Future[tuple[bool, Decision | None]]


class RateLimiter:
    def __init__(
        self,
        settings: RateLimitSettings,
        client: aioredis.Redis,
        *,
        prefix: str,
        guard: Guard | None,
        redis_timeout_s: float,
    ) -> None:
        self.settings = settings
        self._script = client.register_script(_GCRA)
        self._prefix = f"{prefix}rl:"
        self._guard = guard
        self._timeout_s = redis_timeout_s
        self._leases = LeaseBook(ttl_s=LEASE_TTL_S)
        self._decisions: dict[str, Any] = {}
        self._refills: dict[tuple[str, str], _Refill] = {}
        self._failing = False  # the last round trip failed: its streak is logged once

    def tenant_quota(self, tenant: str) -> Quota:
        override = self.settings.tenant_overrides.get(tenant)
        if override is not None:
            return Quota(rate_rps=override[0], burst=override[1])
        return Quota(rate_rps=self.settings.tenant_rate_rps, burst=self.settings.tenant_burst)

    def caller_quota(self, principal: Principal) -> Quota:
        rate, burst = self.settings.role_quota(principal.role.value)
        return Quota(rate_rps=rate, burst=burst)

    def lease_size(self, quotas: tuple[Quota, Quota]) -> int:
        """Tokens one round trip may take: 1 for a bucket whose burst is under 100."""
        smaller = min(quotas[0].burst, quotas[1].burst)
        return max(1, min(self.settings.lease_max_tokens, smaller // 50))

    async def check(self, principal: Principal, *, write: bool) -> Decision:
        decision = await self._decide(principal, write=write)
        counter = self._decisions.get(decision.outcome)
        if counter is None:  # labels() locks and checks on every call: looked up once
            counter = self._decisions[decision.outcome] = metrics.ratelimit_decisions.labels(
                decision.outcome
            )
        counter.inc()
        return decision

    async def _decide(self, principal: Principal, *, write: bool) -> Decision:
        if not self.settings.enabled:
            return Decision("disabled")
        # per quota as well: a token taken under one role's quota is not spent under another
        tenant, caller = principal.tenant, f"{principal.subject} {principal.role.value}"
        if write:
            # Writes are charged in Redis one by one, never from a lease: they fail closed
            # the moment Redis cannot count them (redis_down_writes), as before leases;
            # a lease taken by a read before Redis went away must not admit a write.
            quotas = (self.tenant_quota(tenant), self.caller_quota(principal))
            decision, _ = await self._ask_redis(principal, quotas, 1, write=True)
            return decision
        leased = self._leases.spend(tenant, caller)
        if leased is not None:
            return leased
        refill = self._refills.get((tenant, caller))
        if refill is not None:
            # A round trip for this caller is on its way: its tokens (or its refusal, or
            # Redis's failure for a request of the same kind) serve this request too,
            # instead of one more round trip per request that arrives meanwhile.
            shared_write, shared = await asyncio.shield(refill)
            leased = self._leases.spend(tenant, caller)
            if leased is not None:
                return leased
            if shared is not None and shared.outcome != "allowed" and shared_write == write:
                return shared
        quotas = (self.tenant_quota(tenant), self.caller_quota(principal))
        wanted = self._leases.wanted(tenant, lease=self.lease_size(quotas))
        if wanted == 1:
            decision, _ = await self._ask_redis(principal, quotas, 1, write=write)
            return decision
        done: _Refill = asyncio.get_running_loop().create_future()
        self._refills[(tenant, caller)] = done
        self._leases.begin(tenant, wanted)
        outcome: Decision | None = None  # none for the waiters when this one fails or is cancelled
        try:
            decision, granted = await self._ask_redis(principal, quotas, wanted, write=write)
            if granted > 1:
                self._leases.keep(tenant, caller, tokens=granted - 1, allowed=decision)
                decision = replace(decision, remaining=decision.remaining + granted - 1)
            outcome = decision
        finally:
            self._leases.end(tenant, wanted)
            del self._refills[(tenant, caller)]
            done.set_result((write, outcome))
        return decision

    async def _ask_redis(
        self, principal: Principal, quotas: tuple[Quota, Quota], wanted: int, *, write: bool
    ) -> tuple[Decision, int]:
        """The decision for this request and the tokens granted (this one included)."""
        keys = [
            f"{self._prefix}t:{principal.tenant}",
            f"{self._prefix}c:{principal.tenant}:{principal.subject}",
        ]
        args = [n for q in quotas for n in (q.interval_us, q.burst)] + [wanted]

        async def evaluate() -> list[int]:
            return list(await self._script(keys=keys, args=args))

        policy = self.settings.redis_down_writes if write else self.settings.redis_down_reads
        timeout_s = self.settings.redis_write_timeout_s if write else self._timeout_s
        try:
            if self._guard is None:
                raw = await asyncio.wait_for(evaluate(), timeout_s)
            else:
                raw = await self._guard.call(
                    evaluate, timeout_s=timeout_s, is_failure=redis_failure
                )
        except BreakerOpen:
            if policy == "open":
                return Decision("redis_unavailable_open"), 0
            try:  # closed: one real attempt, so writes return as soon as Redis does
                raw = await asyncio.wait_for(evaluate(), timeout_s)
            except Exception as exc:
                if not redis_failure(exc):
                    raise
                self._note_failure(exc)
                return Decision("redis_unavailable_closed", retry_after_s=1.0), 0
        except Exception as exc:
            if not redis_failure(exc):
                raise
            self._note_failure(exc)
            outcome: Outcome = (
                "redis_unavailable_open" if policy == "open" else "redis_unavailable_closed"
            )
            return Decision(outcome, retry_after_s=1.0), 0
        if self._failing:
            self._failing = False
            log.warning("the rate limiter reaches Redis again")
        allowed, which, remaining, reset_us, retry_us, granted = (int(x) for x in raw[:6])
        decision = Decision(
            "allowed" if allowed else "rejected",
            limit="tenant" if which == 1 else "caller",
            quota=quotas[which - 1],
            remaining=remaining,
            reset_s=reset_us / 1e6,
            retry_after_s=retry_us / 1e6,
        )
        return decision, granted

    def _note_failure(self, exc: BaseException) -> None:
        """Logs the first failure of a streak with its cause (the 503 each request gets
        names no cause; the breaker logs only when it opens)."""
        if not self._failing:
            self._failing = True
            # with the traceback: a fast failure and a timeout look alike in the 503
            log.warning("the rate limiter cannot reach Redis: %r", exc, exc_info=exc)


async def enforce_rate_limit(request: Request, principal: Principal) -> None:
    """Charges the request to its tenant's and caller's buckets (after authentication,
    so the token is decoded once); keeps the decision for the RateLimit-* headers and
    raises :class:`RateLimited` (429) or :class:`DependencyUnavailable` (503)."""
    limiter: RateLimiter | None = getattr(request.app.state, "ratelimiter", None)
    if limiter is None:  # still starting: the routes answer 503 on their own
        return
    decision = await limiter.check(principal, write=request.method not in READ_METHODS)
    request.state.ratelimit = decision
    if decision.outcome == "rejected":
        quota = decision.quota
        assert quota is not None
        raise RateLimited(
            f"{decision.limit} rate limit of {quota.rate_rps:g} requests/s "
            f"(burst {quota.burst}) exceeded; retry in {decision.retry_after_s:.2f} s",
            limit=decision.limit,
            retry_after_s=decision.retry_after_s,
            tenant=principal.tenant,
        )
    if decision.outcome == "redis_unavailable_closed":
        raise DependencyUnavailable(
            "the rate limiter cannot reach Redis and refuses writes meanwhile "
            "(SERVICE_RATELIMIT_REDIS_DOWN_WRITES=closed); retry later",
            dependency="redis",
            tenant=principal.tenant,
        )
