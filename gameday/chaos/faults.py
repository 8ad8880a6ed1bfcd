"""Network faults through Toxiproxy, as Chaos Toolkit python providers.

    {"type": "action", "name": "search-latency",
     "provider": {"type": "python", "module": "gameday.chaos.faults",
                  "func": "add_latency",
                  "arguments": {"proxy": "opensearch", "latency_ms": 800, "jitter_ms": 50}}}

Each fault is named for what it is (`opensearch-latency-800ms-downstream`),
returns that name, is recorded on the run's timeline, and is removed by name
(`remove_fault`), or by the arguments it was injected with: its name rule is
declared once, in FAULTS below, with what `gameday matrix` gives it. A failed
injection raises: it never passes silently.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from gameday.chaos.configuration import toxiproxy_url_of
from gameday.chaos.events import Configuration, run_dir_of
from gameday.chaos.fault_rule import FaultArgumentsError, FaultRule
from gameday.rundir import FaultInjected, FaultRemoved, FaultsReset
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


def _client(configuration: Configuration | None) -> ToxiproxyClient:
    """The Toxiproxy server of the configuration (`toxiproxy_url`, else the profile's)."""
    return ToxiproxyClient(toxiproxy_url_of(configuration), timeout_s=API_TIMEOUT_S)


def _inject(
    proxy: str,
    kind: str,
    named_by: dict[str, Any],
    attributes: dict[str, Any],
    stream: Stream,
    toxicity: float,
    configuration: Configuration | None,
) -> str:
    run_dir = run_dir_of(configuration)
    name = FAULTS[kind].name(proxy=proxy, stream=stream, toxicity=toxicity, **named_by)
    toxic = Toxic(name=name, type=kind, stream=stream, toxicity=toxicity, attributes=attributes)
    with _client(configuration) as client:
        client.add_toxic(proxy, toxic)
    run_dir.append_event(
        FaultInjected(
            name=name,
            target=proxy,
            fault=kind,
            attributes={**attributes, "stream": stream, "toxicity": toxicity},
        )
    )
    return name


def add_latency(
    proxy: str,
    latency_ms: int,
    jitter_ms: int = 0,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    configuration: Configuration | None = None,
) -> str:
    return _inject(
        proxy,
        "latency",
        {"latency_ms": latency_ms},
        {"latency": latency_ms, "jitter": jitter_ms},
        stream,
        toxicity,
        configuration,
    )


def add_bandwidth_limit(
    proxy: str,
    rate_kb_s: int,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    configuration: Configuration | None = None,
) -> str:
    return _inject(
        proxy,
        "bandwidth",
        {"rate_kb_s": rate_kb_s},
        {"rate": rate_kb_s},
        stream,
        toxicity,
        configuration,
    )


def add_slow_close(
    proxy: str,
    delay_ms: int,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    configuration: Configuration | None = None,
) -> str:
    return _inject(
        proxy,
        "slow_close",
        {"delay_ms": delay_ms},
        {"delay": delay_ms},
        stream,
        toxicity,
        configuration,
    )


def add_timeout(
    proxy: str,
    timeout_ms: int = 0,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    configuration: Configuration | None = None,
) -> str:
    """A black hole: data is dropped; with timeout_ms > 0 the connection closes after it."""
    return _inject(
        proxy,
        "timeout",
        {"timeout_ms": timeout_ms},
        {"timeout": timeout_ms},
        stream,
        toxicity,
        configuration,
    )


def add_reset_peer(
    proxy: str,
    timeout_ms: int = 0,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    configuration: Configuration | None = None,
) -> str:
    return _inject(
        proxy,
        "reset_peer",
        {"timeout_ms": timeout_ms},
        {"timeout": timeout_ms},
        stream,
        toxicity,
        configuration,
    )


def add_slicer(
    proxy: str,
    average_size: int = 64,
    size_variation: int = 32,
    delay_us: int = 100,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    configuration: Configuration | None = None,
) -> str:
    return _inject(
        proxy,
        "slicer",
        {"average_size": average_size},
        {"average_size": average_size, "size_variation": size_variation, "delay": delay_us},
        stream,
        toxicity,
        configuration,
    )


def add_limit_data(
    proxy: str,
    bytes_: int,
    stream: Stream = "downstream",
    toxicity: float = 1.0,
    configuration: Configuration | None = None,
) -> str:
    return _inject(
        proxy,
        "limit_data",
        {"bytes_": bytes_},
        {"bytes": bytes_},
        stream,
        toxicity,
        configuration,
    )


def remove_fault(
    proxy: str,
    name: str | None = None,
    fault: str | None = None,
    configuration: Configuration | None = None,
    **arguments: Any,
) -> None:
    """Removes a fault: by its name, or by the fault (a key of FAULTS) and the arguments
    it was injected with, so a rollback repeats the method's action instead of spelling
    the name its rule gives (a proxy taken down is enabled again):

        {"func": "remove_fault",
         "arguments": {"proxy": "postgres", "fault": "timeout", "timeout_ms": 0}}

    A rollback after the method already removed it (strategy ``always``) finds it gone
    and does nothing, instead of failing on Toxiproxy's 404."""
    if name is None:
        rule = FAULTS.get(fault or "")
        if rule is None:
            raise FaultArgumentsError(
                f"remove_fault needs a name or a fault; fault {fault!r} is not one of "
                f"{', '.join(FAULTS)}"
            )
        if rule.provider is disable_proxy:
            return enable_proxy(proxy, configuration)
        name = rule.name(proxy=proxy, **arguments)
    run_dir = run_dir_of(configuration)
    with _client(configuration) as client:
        present = {t.name for t in client.proxies()[proxy].toxics}
        if name not in present:
            return
        client.remove_toxic(proxy, name)
    run_dir.append_event(FaultRemoved(name=name, target=proxy))


def disable_proxy(proxy: str, configuration: Configuration | None = None) -> str:
    """The dependency is unreachable: new connections are refused, open ones cut."""
    run_dir = run_dir_of(configuration)
    with _client(configuration) as client:
        client.set_enabled(proxy, False)
    name = FAULTS["down"].name(proxy=proxy)
    run_dir.append_event(FaultInjected(name=name, target=proxy, fault="down"))
    return name


def enable_proxy(proxy: str, configuration: Configuration | None = None) -> None:
    run_dir = run_dir_of(configuration)
    with _client(configuration) as client:
        was_enabled = client.proxies()[proxy].enabled
        client.set_enabled(proxy, True)
    if not was_enabled:  # a rollback after the method already restored it: no new event
        run_dir.append_event(FaultRemoved(name=FAULTS["down"].name(proxy=proxy), target=proxy))


def reset_all(configuration: Configuration | None = None) -> None:
    """Last resort: every proxy enabled, every toxic removed."""
    run_dir = run_dir_of(configuration)
    with _client(configuration) as client:
        client.reset()
    run_dir.append_event(FaultsReset())


def reset_proxies(names: Collection[str], configuration: Configuration | None = None) -> None:
    """Last resort for these proxies only (an experiment's own): each enabled, its toxics
    removed. Proxies another experiment or test may be using are left alone."""
    if not names:
        return
    run_dir = run_dir_of(configuration)
    with _client(configuration) as client:
        proxies = client.proxies()
        for name in sorted(names):
            proxy = proxies.get(name)
            if proxy is None:
                continue
            for toxic in proxy.toxics:
                client.remove_toxic(name, toxic.name)
            if not proxy.enabled:
                client.set_enabled(name, True)
    run_dir.append_event(FaultsReset(proxies=sorted(names)))


def leftover_faults(
    names: Collection[str] | None = None, configuration: Configuration | None = None
) -> list[str]:
    """What is still in place: toxics by name and disabled proxies (of these proxies;
    None: of every proxy)."""
    with _client(configuration) as client:
        proxies = client.proxies()
    chosen = [p for p in proxies.values() if names is None or p.name in names]
    left = [f"{p.name}: toxic {t.name}" for p in chosen for t in p.toxics]
    left += [f"{p.name}: disabled" for p in chosen if not p.enabled]
    return left


# Each network fault, declared once: its provider, the rule its name follows and the
# arguments `gameday matrix` injects it with (None: not one of the matrix's faults).
# Toxics are keyed by their Toxiproxy type, which the fault_injected event records.
FAULTS: dict[str, FaultRule] = {
    "latency": FaultRule(
        add_latency, "{proxy}-latency-{latency_ms}ms-{stream}", matrix={"latency_ms": 1000}
    ),
    "bandwidth": FaultRule(
        add_bandwidth_limit, "{proxy}-bandwidth-{rate_kb_s}kbps-{stream}", matrix={"rate_kb_s": 32}
    ),
    "slow_close": FaultRule(
        add_slow_close, "{proxy}-slow-close-{delay_ms}ms-{stream}", matrix={"delay_ms": 2000}
    ),
    "timeout": FaultRule(
        add_timeout, "{proxy}-timeout-{timeout_ms}ms-{stream}", matrix={"timeout_ms": 0}
    ),
    "reset_peer": FaultRule(
        add_reset_peer, "{proxy}-reset-peer-{timeout_ms}ms-{stream}", matrix={"timeout_ms": 0}
    ),
    "down": FaultRule(disable_proxy, "{proxy}-down", matrix={}),
    "limit_data": FaultRule(
        add_limit_data, "{proxy}-limit-data-{bytes_}b-{stream}", matrix={"bytes_": 2048}
    ),
    "slicer": FaultRule(add_slicer, "{proxy}-slicer-{average_size}b-{stream}"),
}
