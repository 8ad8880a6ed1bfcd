"""Which Toxiproxy proxies an experiment acts on, for the last-resort reset after it:
the `proxy` argument of gameday.chaos.faults actions, chaostoolkit-toxiproxy's
`for_proxy` / `proxy_name`, `${key}` resolved like `chaos run` does.

    proxies_named(experiment, variables)   # {"redis"}; set(): no network fault; None: unsure
    named_proxies(experiment, variables)   # those it does name, even when unsure of others
"""

from __future__ import annotations

from typing import Any

from gameday.chaos.experiment import REFERENCE, Experiment

__all__ = ["PROXY_ARGUMENTS", "named_proxies", "proxies_named"]

# chaostoolkit-toxiproxy's actions name their proxy `for_proxy` (ours: `proxy`)
PROXY_ARGUMENTS = {"gameday.chaos.faults": "proxy", "chaostoxi.toxic.actions": "for_proxy"}
PROXY_ARGUMENTS |= {"chaostoxi.proxy.actions": "proxy_name"}


def proxies_named(experiment: Experiment, variables: dict[str, float]) -> set[str] | None:
    """The Toxiproxy proxies the experiment's method and rollbacks act on (the `proxy`
    argument of their gameday.chaos.faults actions, chaostoolkit-toxiproxy's
    `for_proxy` / `proxy_name`, `${key}` resolved like `chaos run` does); empty for one
    with no network fault (process faults); None when a fault action names no proxy
    this can tell (`reset_all`, a user's own provider)."""
    named = _proxy_per_activity(experiment, variables)
    if any(proxy is None for proxy in named):
        return None
    return {proxy for proxy in named if proxy is not None}


def named_proxies(experiment: Experiment, variables: dict[str, float]) -> set[str]:
    """The proxies its fault actions name, leaving out those that name none."""
    return {proxy for proxy in _proxy_per_activity(experiment, variables) if proxy is not None}


def _proxy_per_activity(experiment: Experiment, variables: dict[str, float]) -> list[str | None]:
    """For each activity that may fault a proxy: the proxy it names, or None when that
    cannot be told (a user's action, `reset_all`, a `${key}` left unset)."""
    configuration: dict[str, Any] = {**experiment.configuration, **variables}
    found: list[str | None] = []
    for activity in [*experiment.data.get("method", []), *(experiment.data.get("rollbacks") or [])]:
        provider = activity.get("provider") or {}
        argument = PROXY_ARGUMENTS.get(str(provider.get("module")))
        if argument is None:
            if activity.get("type") == "action" and _unknown(provider):
                found.append(None)  # a user's action may fault any proxy
            continue
        proxy = (provider.get("arguments") or {}).get(argument)
        match = REFERENCE.match(proxy) if isinstance(proxy, str) else None
        if match:
            proxy = configuration.get(match.group(1))
        found.append(proxy if isinstance(proxy, str) and proxy else None)
    return found


def _unknown(provider: dict[str, Any]) -> bool:
    """An action of a module that is not one of gameday's: what it faults is unknown."""
    module = provider.get("module")
    return provider.get("type") != "python" or (
        isinstance(module, str) and not module.startswith("gameday.chaos.")
    )
