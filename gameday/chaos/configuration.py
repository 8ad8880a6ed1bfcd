"""What gameday's providers read from an experiment's `configuration`, inside `gameday
run` and in a plain `chaos run` alike: Chaos Toolkit passes the configuration to every
provider that takes a `configuration` argument.

- `gameday_run_dir`: the run directory (live.json, events.jsonl);
  `gameday run` gives `--var gameday_run_dir=DIR`.
- `toxiproxy_url`: the Toxiproxy API (the key chaostoolkit-toxiproxy reads too), else
  the profile's; `--var toxiproxy_url=URL`.
- `gameday_profile`: the target profile (signals, processes, dependencies);
  `--var gameday_profile=FILE` (the run's profile as JSON in the run directory).
- `gameday_metrics_url`: a Prometheus text endpoint, else the profile's
  signals.metrics_url; given when `--target` moved the service away from it.

A Prometheus server (the PromQL probes) is their `prometheus_url` argument, else the
profile's alerts.prometheus_url, else its signals.prometheus_url (`prometheus_url_of`).

A plain `chaos run` keeps a `--var` only for a key the experiment declares, so the
shipped experiments declare all four (null). A provider that needs one that is
missing fails with one line naming the key and the `--var` that gives it:

    toxiproxy_url_of(configuration)   # "http://127.0.0.1:21474"
    profile_of(configuration)         # TargetProfile, or one-line ConfigError
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from gameday import stack
from gameday.chaos.events import RUN_DIR_VAR, Configuration
from gameday.errors import ConfigError
from gameday.rundir import RunDir
from gameday.settings import StackSettings
from gameday.target import Signals, TargetProfile, load_profile

__all__ = [
    "CONFIGURATION_KEYS",
    "METRICS_URL_VAR",
    "PROFILE_VAR",
    "TOXIPROXY_URL_VAR",
    "chaos_configuration",
    "declaring_keys",
    "metrics_url_of",
    "optional_profile_of",
    "moved_metrics_url",
    "profile_of",
    "prometheus_url_of",
    "reference_signals",
    "toxiproxy_url_of",
]

TOXIPROXY_URL_VAR = "toxiproxy_url"
PROFILE_VAR = "gameday_profile"
METRICS_URL_VAR = "gameday_metrics_url"
CONFIGURATION_KEYS = (RUN_DIR_VAR, TOXIPROXY_URL_VAR, PROFILE_VAR, METRICS_URL_VAR)


def _missing(what: str, key: str, example: str) -> ConfigError:
    return ConfigError(
        f"no {what} in the experiment's configuration: run it with `gameday run`, or give "
        f"`chaos run --var {key}={example}` (the experiment must declare "
        f'"{key}": null in its configuration)'
    )


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> TargetProfile:
    return load_profile(Path(path))


def optional_profile_of(configuration: Configuration | None) -> TargetProfile | None:
    """The profile `gameday_profile` names, or None when it names none."""
    value = (configuration or {}).get(PROFILE_VAR)
    if not value:
        return None
    path = Path(str(value))
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        raise ConfigError(
            f"{PROFILE_VAR} names {path}, which does not exist: give the target profile's "
            f"path (e.g. --var {PROFILE_VAR}=targets/reference.yaml)"
        ) from None
    return _load(str(path.resolve()), mtime_ns)


def profile_of(configuration: Configuration | None) -> TargetProfile:
    profile = optional_profile_of(configuration)
    if profile is None:
        raise _missing("target profile", PROFILE_VAR, "targets/reference.yaml")
    return profile


def toxiproxy_url_of(configuration: Configuration | None) -> str:
    """`toxiproxy_url`, else the profile's Toxiproxy server."""
    value = (configuration or {}).get(TOXIPROXY_URL_VAR)
    if value:
        return str(value).rstrip("/")
    profile = optional_profile_of(configuration)
    if profile is not None:
        return profile.toxiproxy.url
    raise _missing("Toxiproxy URL", TOXIPROXY_URL_VAR, "http://127.0.0.1:21474")


def metrics_url_of(configuration: Configuration | None) -> str:
    """`gameday_metrics_url`, else the profile's signals.metrics_url."""
    value = (configuration or {}).get(METRICS_URL_VAR)
    if value:
        return str(value)
    profile = optional_profile_of(configuration)
    if profile is not None and profile.signals is not None and profile.signals.metrics_url:
        return profile.signals.metrics_url
    raise _missing("Prometheus text endpoint", METRICS_URL_VAR, "http://127.0.0.1:28080/metrics")


def prometheus_url_of(configuration: Configuration | None, given: str | None = None) -> str:
    """`given` (a probe's `prometheus_url` argument), else the profile's Prometheus: its
    alerts.prometheus_url, else its signals.prometheus_url."""
    if given:
        return given.rstrip("/")
    profile = optional_profile_of(configuration)
    if profile is not None and profile.alerts is not None:
        return profile.alerts.prometheus_url
    if profile is not None and profile.signals is not None and profile.signals.prometheus_url:
        return profile.signals.prometheus_url.rstrip("/")
    raise ConfigError(
        "no Prometheus server for a PromQL probe: give the probe a prometheus_url argument, "
        f"or a target profile with alerts.prometheus_url (`--var {PROFILE_VAR}=FILE`)"
    )


def declaring_keys(experiment: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment with these configuration keys declared (null unless it has them):
    Chaos Toolkit drops a --var whose key the experiment does not declare."""
    data = copy.deepcopy(dict(experiment))
    configuration = dict(data.get("configuration") or {})
    for key in values:
        configuration.setdefault(key, None)
    data["configuration"] = configuration
    return data


def reference_signals(service_url: str) -> Signals:
    """Without a profile: the reference service's own gauge (service_breaker_state)."""
    states = {0.0: "closed", 1.0: "half-open", 2.0: "open"}
    return Signals.model_validate(
        {
            "metrics_url": f"{service_url.rstrip('/')}/metrics",
            "breakers": {
                name: {
                    "metric": "service_breaker_state",
                    "labels": {"dependency": name},
                    "values": states,
                }
                for name in stack.DEPENDENCIES
            },
        }
    )


def moved_metrics_url(profile: TargetProfile, service_url: str | None) -> str | None:
    """The profile's text endpoint under its base_url follows the service when the run
    targets another URL (`gameday run --target`); None: it stays where it is."""
    signals = profile.signals
    url = signals.metrics_url if signals is not None else None
    if url is None or not service_url or not url.startswith(profile.base_url + "/"):
        return None
    moved = service_url.rstrip("/") + url[len(profile.base_url) :]
    return None if moved == url else moved


def chaos_configuration(
    profile: TargetProfile | None, run_dir: Path, settings: StackSettings, service_url: str | None
) -> dict[str, str]:
    """What `gameday run` passes `chaos run` as --var values beside the run directory:
    the Toxiproxy URL, the profile (written to the run directory as JSON) and, when the
    service moved, its metrics endpoint (gameday.chaos.configuration)."""
    if profile is None:  # the reference stack's, and the service's own /metrics
        values = {TOXIPROXY_URL_VAR: settings.toxiproxy_url}
        values[METRICS_URL_VAR] = f"{(service_url or settings.service_url).rstrip('/')}/metrics"
        return values
    values = {
        TOXIPROXY_URL_VAR: profile.toxiproxy.url,
        PROFILE_VAR: str(_write_profile(profile, run_dir)),
    }
    moved = moved_metrics_url(profile, service_url)
    if moved is not None:
        values[METRICS_URL_VAR] = moved
    return values


def _write_profile(profile: TargetProfile, run_dir: Path) -> Path:
    data = profile.model_dump(mode="json", exclude_none=True)
    for process in data.get("processes", {}).values():
        if "pid_file" in process and not Path(process["pid_file"]).is_absolute():
            process["pid_file"] = str(profile.folder / process["pid_file"])
    path = RunDir(run_dir).target_profile_json
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
