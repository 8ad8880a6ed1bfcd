"""The chaos side's access to the run's timeline (events.jsonl, gameday.rundir).

`gameday run` starts `chaos run` with the run directory as a configuration value,
`--var gameday_run_dir=RUN_DIR` (the experiment it hands over declares that key:
`declaring_run_dir`); Chaos Toolkit passes the experiment's configuration to every
provider and control that takes a `configuration` argument:

    def disable_proxy(proxy: str, configuration: Configuration | None = None) -> str:
        run_dir = run_dir_of(configuration)   # before touching the stack
        ...
        run_dir.append_event(FaultInjected(name=name, target=proxy, fault="down"))

The harness calls the same providers with `configuration_for(run_dir)`. The other
keys providers read (the Toxiproxy URL, the target profile, a metrics endpoint) are in
gameday.chaos.configuration.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gameday.errors import ConfigError
from gameday.rundir import RunDir

__all__ = [
    "RUN_DIR_VAR",
    "Configuration",
    "configuration_for",
    "declaring_run_dir",
    "run_dir_of",
]

RUN_DIR_VAR = "gameday_run_dir"
Configuration = Mapping[str, Any]


def run_dir_of(configuration: Configuration | None) -> RunDir:
    """The run directory a provider records on; a one-line error naming the --var when
    the experiment runs outside `gameday run` without it."""
    value = (configuration or {}).get(RUN_DIR_VAR)
    if not value:
        raise ConfigError(
            f"no run directory in the experiment's configuration: run it with `gameday run`, "
            f"or give `chaos run --var {RUN_DIR_VAR}=RUN_DIR` (the experiment must declare "
            f'"{RUN_DIR_VAR}": null in its configuration)'
        )
    return RunDir(Path(str(value)))


def configuration_for(run_dir: Path, **values: Any) -> dict[str, Any]:
    """What the harness passes as `configuration` when it calls a provider itself (the
    other keys of gameday.chaos.configuration as keywords: `toxiproxy_url=URL`)."""
    return {RUN_DIR_VAR: str(run_dir), **{k: v for k, v in values.items() if v is not None}}


def declaring_run_dir(experiment: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment with `gameday_run_dir` declared in its configuration: Chaos
    Toolkit drops a --var whose key the experiment does not declare."""
    data = copy.deepcopy(dict(experiment))
    configuration = dict(data.get("configuration") or {})
    configuration.setdefault(RUN_DIR_VAR, None)
    data["configuration"] = configuration
    return data
