"""Warming the search engine up after the stack starts it (the reference profile's
warm-up hook, service/gameday_hooks.py, calls this).

A just-started OpenSearch JVM answers its first concurrent searches in about a second
(JIT compilation, cold caches): enough to open the service's search breaker (0.8 s
per-attempt timeout, 50% of 10 calls) in the first seconds of the first run, and so to
fail its steady state before any fault. Rounds of concurrent searches in the service's
own query shapes (search's, and autocomplete's every fourth), straight to the engine (no
breaker, no cache), until a whole round answers quickly (at least three rounds: under a
second on a warm engine).

    line = warm_search(["http://127.0.0.1:22200"])   # "search     warm in 0.4s (3 rounds)"
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from service.search.query import build_autocomplete, build_search
from service.search.schemas import AutocompleteParams, SearchParams
from service.settings import OpenSearchSettings

CONCURRENCY = 16
QUICK_ROUND_S = 0.2
MIN_ROUNDS = 3  # one quick round on a cold JVM was not enough for the first test
WORDS = ("alpha", "search", "engine", "cache", "index", "tenant", "report", "data")


def warm_search(
    hosts: list[str],
    *,
    alias: str = OpenSearchSettings.model_fields["alias"].default,  # the stack's service's
    budget_s: float = 90.0,
) -> str | None:
    """Searches until a round is quick; returns the line to show, or None when there is
    no index yet (no service started: nothing to warm)."""
    started = time.monotonic()
    clients = [httpx.Client(base_url=url, timeout=10) for url in hosts]

    def search(i: int) -> int:
        word = WORDS[i % len(WORDS)]
        client = clients[i % len(clients)]
        if i % 4 == 3:  # autocomplete's query (search_as_you_type) warms apart from search's
            body = build_autocomplete(f"tenant-{i % 5}", AutocompleteParams(prefix=word[:3]))
        else:
            params = SearchParams(q=f"{word} {i}", highlight=i % 2 == 0)
            body = build_search(f"tenant-{i % 5}", params)
        return client.post(f"/{alias}/_search", json=body).status_code

    try:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            for round_ in range(1, 1000):
                began = time.monotonic()
                first = round_ * CONCURRENCY
                codes = list(pool.map(search, range(first, first + CONCURRENCY)))
                if 404 in codes:
                    return None
                if round_ >= MIN_ROUNDS and time.monotonic() - began < QUICK_ROUND_S:
                    break
                if time.monotonic() - started > budget_s:
                    return f"search     still slow after {budget_s:.0f}s of warm-up"
    except httpx.HTTPError as exc:
        return f"search     warm-up skipped: {exc}"
    finally:
        for client in clients:
            client.close()
    return f"search     warm in {time.monotonic() - started:.1f}s ({round_} rounds)"
