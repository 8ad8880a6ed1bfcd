"""Sends a seed plan to the service's bulk API, a few batches in flight at a time,
with one token per tenant from the target profile's `token` hook (the reference
service's: service/gameday_hooks.py, called through targets/reference.yaml).

tokens = profile_tokens(load_profile(REFERENCE_PROFILE), tenant_names(5), ttl_s=3600)
result = asyncio.run(seed_service(plan, base_url="http://127.0.0.1:28080", tokens=tokens))
result.rate_docs_s

The clock starts once the first PREPARED_MAX_DOCS documents are made and serialized, so
that the rates are the service's (on one small machine the generator's CPU would count
against it); beyond that they are made as the requests go.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import tenacity

from gameday.errors import GamedayError
from gameday.seed.generator import SeedPlan, generate_batches, tenant_names
from gameday.target import REFERENCE_PROFILE, HookContext, TargetProfile, call_hook, load_profile

Progress = Callable[[int], None]  # documents accepted so far
PREPARED_MAX_DOCS = 50_000  # request bodies made before the clock starts: about 70 MB


class SeedError(GamedayError):
    pass


class _Retryable(Exception):
    pass


@dataclass
class SeedResult:
    docs: int
    tenants: int
    elapsed_s: float
    indexed_after_s: float | None = None

    @property
    def rate_docs_s(self) -> float:
        return self.docs / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def indexed_rate_docs_s(self) -> float | None:
        if not self.indexed_after_s:
            return None
        return self.docs / self.indexed_after_s


def profile_tokens(
    profile: TargetProfile, tenants: list[str], *, ttl_s: float = 3600
) -> dict[str, str]:
    """One user token per tenant, each from the profile's `token` hook."""
    return {
        tenant: call_hook(
            profile,
            "token",
            HookContext(base_url=profile.base_url, tenants=[tenant], params={"ttl_s": ttl_s}),
        )
        for tenant in tenants
    }


def mint_tokens(tenants: list[str], ttl_s: float = 3600) -> dict[str, str]:
    """One user token per tenant of the reference service (its profile's token hook)."""
    return profile_tokens(load_profile(REFERENCE_PROFILE), tenants, ttl_s=ttl_s)


def _request_bodies(plan: SeedPlan) -> Iterator[tuple[str, bytes]]:
    for tenant, docs in generate_batches(plan):
        yield tenant, orjson.dumps({"documents": docs})


async def _post_batch(client: httpx.AsyncClient, token: str, body: bytes) -> int:
    async for attempt in tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception_type((_Retryable, httpx.TransportError)),
        wait=tenacity.wait_exponential_jitter(multiplier=0.2, max=5.0),
        stop=tenacity.stop_after_attempt(5),
        reraise=True,
    ):
        with attempt:
            response = await client.post(
                "/v1/documents/_bulk",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            if response.status_code in (429, 502, 503, 504):
                raise _Retryable(f"{response.status_code}: {response.text[:200]}")
            if response.status_code != 202:
                raise SeedError(
                    f"the service refused a bulk request: {response.status_code} "
                    f"{response.text[:300]}"
                )
            return int(response.json()["count"])
    raise AssertionError("unreachable")


async def count_searchable(client: httpx.AsyncClient, token: str) -> int:
    """Searchable documents of the token's tenant, asked of the engine, not the cache:
    each call uses a different (and harmless) lower date bound, so a different cache key."""
    bypass = (
        datetime(1900, 1, 1, tzinfo=UTC) + timedelta(microseconds=time.time_ns() // 1000 % 10**9)
    ).isoformat()
    response = await client.get(
        "/v1/search",
        params={"size": 1, "from_date": bypass},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    return int(response.json()["total"])


async def count_indexed(client: httpx.AsyncClient, tokens: dict[str, str]) -> int:
    """Searchable documents of these tenants (one search each)."""
    return sum([await count_searchable(client, token) for token in tokens.values()])


async def _wait_searchable(
    client: httpx.AsyncClient,
    tokens: dict[str, str],
    baseline: dict[str, int],
    sent_by: dict[str, int],
    last_batch: dict[str, int],
    wait_s: float,
) -> None:
    """Until every tenant has its baseline plus what it was sent. One search per poll:
    the tenant accepted last first (indexing is first in, first out, so the others are
    usually done by then); a tenant found complete is not asked again."""
    waiting = sorted((t for t in sent_by if sent_by[t]), key=lambda t: -last_batch[t])
    deadline = time.monotonic() + wait_s
    while waiting:
        tenant = waiting[0]
        if await count_searchable(client, tokens[tenant]) >= baseline[tenant] + sent_by[tenant]:
            waiting.pop(0)
            continue
        if time.monotonic() > deadline:
            missing = ", ".join(waiting)
            raise SeedError(
                f"{sum(sent_by.values())} documents accepted but not all searchable within "
                f"{wait_s:.0f}s (not yet: {missing})"
            )
        await asyncio.sleep(0.25)


async def seed_service(
    plan: SeedPlan,
    *,
    base_url: str,
    tokens: dict[str, str] | None = None,
    concurrency: int = 4,
    progress: Progress | None = None,
    wait_indexed_s: float = 0.0,
) -> SeedResult:
    """Loads the plan; with ``wait_indexed_s`` > 0 also waits until search sees it all.
    ``tokens``: tenant -> token for every tenant of the plan (default: the reference
    service's, minted by its profile's token hook)."""
    tenants = tenant_names(plan.tenants)
    tokens = tokens if tokens is not None else mint_tokens(tenants)
    missing = [t for t in tenants if t not in tokens]
    if missing:
        raise SeedError(f"no token for tenant(s) {', '.join(missing)}")
    tokens = {t: tokens[t] for t in tenants}  # only the plan's tenants are counted
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"X-Synthetic": "gameday-seed"}
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60.0, limits=limits, headers=headers
    ) as client:
        try:
            baseline = {
                t: await count_searchable(client, tokens[t]) if wait_indexed_s > 0 else 0
                for t in tenants
            }
        except httpx.HTTPError as exc:
            raise SeedError(f"the service at {base_url} does not answer: {exc}") from exc
        sent = 0
        sent_by: dict[str, int] = dict.fromkeys(tenants, 0)
        last_batch: dict[str, int] = dict.fromkeys(tenants, 0)  # order of the last acceptance
        slots = asyncio.Semaphore(concurrency)
        in_flight: set[asyncio.Task[int]] = set()
        # The corpus is made before the clock starts (up to PREPARED_MAX_DOCS, the rest as
        # it goes): on a small machine the generator's CPU would otherwise be taken from
        # the service, and the rates are the service's.
        bodies = _request_bodies(plan)
        prepared = list(itertools.islice(bodies, -(-PREPARED_MAX_DOCS // plan.batch_size)))
        started = time.perf_counter()

        async def one(tenant: str, body: bytes) -> int:
            nonlocal sent
            try:
                accepted = await _post_batch(client, tokens[tenant], body)
            finally:
                slots.release()
            sent += accepted
            sent_by[tenant] += accepted
            last_batch[tenant] = sent
            if progress is not None:
                progress(sent)
            return accepted

        try:
            for tenant, body in itertools.chain(prepared, bodies):
                await slots.acquire()
                task = asyncio.create_task(one(tenant, body))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                await asyncio.sleep(0)
            if in_flight:
                await asyncio.gather(*in_flight)
        except (httpx.HTTPError, _Retryable) as exc:
            raise SeedError(f"seeding failed after {sent} documents: {exc}") from exc
        elapsed_s = time.perf_counter() - started
        result = SeedResult(docs=sent, tenants=plan.tenants, elapsed_s=elapsed_s)
        if wait_indexed_s > 0:
            await _wait_searchable(client, tokens, baseline, sent_by, last_batch, wait_indexed_s)
            result.indexed_after_s = time.perf_counter() - started
        return result
