"""Network faults through Toxiproxy, as Chaos Toolkit python providers.

    {"type": "action", "name": "search-latency",
     "provider": {"type": "python", "module": "gameday.chaos.faults",
                  "func": "add_latency",
                  "arguments": {"proxy": "opensearch", "latency_ms": 800, "jitter_ms": 50}}}

Each fault is named for what it is (`opensearch-latency-800ms-downstream`),
returns that name, is recorded on the run's timeline, and is removed by name
(`remove_fault`). A failed injection raises: it never passes silently.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

from gameday.chaos.events import record_event
from gameday.settings import StackSettings
from gameday.toxiproxy import Stream, Toxic, ToxiproxyClient

__all__ = [
    "add_bandwidth_limit",
    "add_latency",
    "add_limit_data",
    "add_reset_peer",
    "add_slicer",
    "add_slow_close",
    "add_timeout",
    "disable_proxy",
    "enable_proxy",
    "remove_fault",
    "reset_all",
]

API_TIMEOUT_S = 5.0


def _client() -> ToxiproxyClient:
    url = os.environ.get("GAMEDAY_TOXIPROXY_URL") or StackSettings().toxiproxy_url
    return ToxiproxyClient(url, timeout_s=API_TIMEOUT_S)


def _inject(
    proxy: str, kind: str, label: str, attributes: dict[str, Any], stream: Stream, toxicity: float
) -> str:
    partial = "" if toxicity >= 1.0 else f"-{int(toxicity * 100)}pct"
    name = f"{proxy}-{label}-{stream}{partial}"
    toxic = Toxic(name=name, type=kind, stream=stream, toxicity=toxicity, attributes=attributes)
    with _client() as client:
        client.add_toxic(proxy, toxic)
    record_event(
        "fault_injected",
        name=name,
        target=proxy,
        fault=kind,
        attributes={**attributes, "stream": stream, "toxicity": toxicity},
    )
    return name


def add_latency(
    proxy: str,
    latency_ms: int,
    jitter_ms: int = 0,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
) -> str:
    return _inject(
        proxy,
        "latency",
        f"latency-{latency_ms}ms",
        {"latency": latency_ms, "jitter": jitter_ms},
        stream,
        toxicity,
    )


def add_bandwidth_limit(
    proxy: str, rate_kb_s: int, stream: Stream = "downstream", toxicity: float = 1.0
) -> str:
    return _inject(
        proxy, "bandwidth", f"bandwidth-{rate_kb_s}kbps", {"rate": rate_kb_s}, stream, toxicity
    )


def add_slow_close(
    proxy: str, delay_ms: int, stream: Stream = "downstream", toxicity: float = 1.0
) -> str:
    return _inject(
        proxy, "slow_close", f"slow-close-{delay_ms}ms", {"delay": delay_ms}, stream, toxicity
    )


def add_timeout(
    proxy: str, timeout_ms: int = 0, stream: Stream = "downstream", toxicity: float = 1.0
) -> str:
    """A black hole: data is dropped; with timeout_ms > 0 the connection closes after it."""
    return _inject(
        proxy, "timeout", f"timeout-{timeout_ms}ms", {"timeout": timeout_ms}, stream, toxicity
    )


def add_reset_peer(
    proxy: str, timeout_ms: int = 0, stream: Stream = "downstream", toxicity: float = 1.0
) -> str:
    return _inject(
        proxy, "reset_peer", f"reset-peer-{timeout_ms}ms", {"timeout": timeout_ms}, stream, toxicity
    )


def add_slicer(
    proxy: str,
    average_size: int = 64,
    size_variation: int = 32,
    delay_us: int = 100,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
) -> str:
    return _inject(
        proxy,
        "slicer",
        f"slicer-{average_size}b",
        {"average_size": average_size, "size_variation": size_variation, "delay": delay_us},
        stream,
        toxicity,
    )


def add_limit_data(
    proxy: str, bytes_: int, stream: Stream = "downstream", toxicity: float = 1.0
) -> str:
    return _inject(
        proxy, "limit_data", f"limit-data-{bytes_}b", {"bytes": bytes_}, stream, toxicity
    )


def remove_fault(proxy: str, name: str) -> None:
    """Removes the named toxic; a rollback after the method already removed it (strategy
    ``always``) finds it gone and does nothing, instead of failing on Toxiproxy's 404."""
    with _client() as client:
        present = {t.name for t in client.proxies()[proxy].toxics}
        if name not in present:
            return
        client.remove_toxic(proxy, name)
    record_event("fault_removed", name=name, target=proxy)


def disable_proxy(proxy: str) -> str:
    """The dependency is unreachable: new connections are refused, open ones cut."""
    with _client() as client:
        client.set_enabled(proxy, False)
    name = f"{proxy}-down"
    record_event("fault_injected", name=name, target=proxy, fault="down", attributes={})
    return name


def enable_proxy(proxy: str) -> None:
    with _client() as client:
        was_enabled = client.proxies()[proxy].enabled
        client.set_enabled(proxy, True)
    if not was_enabled:  # a rollback after the method already restored it: no new event
        record_event("fault_removed", name=f"{proxy}-down", target=proxy)


def reset_all() -> None:
    """Last resort: every proxy enabled, every toxic removed."""
    with _client() as client:
        client.reset()
    record_event("faults_reset")


def reset_proxies(names: Collection[str]) -> None:
    """Last resort for these proxies only (an experiment's own): each enabled, its toxics
    removed. Proxies another experiment or test may be using are left alone."""
    if not names:
        return
    with _client() as client:
        proxies = client.proxies()
        for name in sorted(names):
            proxy = proxies.get(name)
            if proxy is None:
                continue
            for toxic in proxy.toxics:
                client.remove_toxic(name, toxic.name)
            if not proxy.enabled:
                client.set_enabled(name, True)
    record_event("faults_reset", proxies=sorted(names))


def leftover_faults(names: Collection[str] | None = None) -> list[str]:
    """What is still in place: toxics by name and disabled proxies (of these proxies;
    None: of every proxy)."""
    with _client() as client:
        proxies = client.proxies()
    chosen = [p for p in proxies.values() if names is None or p.name in names]
    left = [f"{p.name}: toxic {t.name}" for p in chosen for t in p.toxics]
    left += [f"{p.name}: disabled" for p in chosen if not p.enabled]
    return left
