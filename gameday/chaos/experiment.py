"""Loading and checking Chaos Toolkit experiments before anything runs.

    experiment = load_experiment(Path("experiments/redis-down.json"))
    experiment.warmup_s, experiment.recovery_s, experiment.planned_method_s

An activity of gameday.chaos (faults, processes, probes) must name one of its
functions; an unknown one is an `InvalidExperiment` naming where it is and what would
be valid, like Chaos Toolkit's own validation. A user's experiment may use other
python providers (chaostoolkit-toxiproxy, the user's own modules: they must import
and have the function) and process or http providers; the report then infers its
fault window from the journal (gameday.chaos.inferred).

Pauses and the gameday extension's times may name a configuration key
(`"after": "${fault_s}"`), as Chaos Toolkit allows: `gameday run --var fault_s=8`
overrides it for the plan here and for `chaos run` alike.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gameday.errors import ConfigError

PROVIDER_MODULES = (
    "gameday.chaos.faults",
    "gameday.chaos.processes",
    "gameday.chaos.probes",
    "gameday.chaos.redis_failover",
    "gameday.chaos.partition",
    "gameday.chaos.search_cluster",
    "gameday.chaos.rabbitmq_cluster",
)
DEFAULT_WARMUP_S = 10.0
DEFAULT_RECOVERY_S = 20.0
# The gameday extension's timeline, which --var sets for any experiment (`--var
# recovery_s=60` to watch a slow recovery longer) whether its configuration declares
# them or not: the harness reads them, never Chaos Toolkit.
TIMELINE_KEYS = ("warmup_s", "recovery_s")
REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class InvalidExperiment(ConfigError):
    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True)
class Experiment:
    path: Path
    name: str
    title: str
    data: dict[str, Any]
    warmup_s: float
    recovery_s: float
    configuration: dict[str, Any]  # the file's, with the --var overrides applied

    @property
    def planned_method_s(self) -> float:
        """Pauses in the method: how long the faults are planned to last."""
        return sum(_pauses(a, self.configuration) for a in self.data.get("method", []))

    @property
    def planned_total_s(self) -> float:
        return self.warmup_s + self.planned_method_s + self.recovery_s


def _pauses(activity: dict[str, Any], configuration: dict[str, Any]) -> float:
    pauses = activity.get("pauses") or {}
    return sum(_seconds(pauses.get(k, 0), configuration) for k in ("before", "after"))


def _seconds(value: Any, configuration: dict[str, Any]) -> float:
    """A number of seconds, or a `${key}` naming one in the configuration."""
    match = REFERENCE.match(value) if isinstance(value, str) else None
    return float(configuration[match.group(1)] if match else value)


def _checked_seconds(path: Path, where: str, value: Any, configuration: dict[str, Any]) -> float:
    try:
        return _seconds(value, configuration)
    except KeyError as exc:
        raise InvalidExperiment(
            path,
            f"{where} names {value}, which is not in 'configuration'; "
            f"add {exc.args[0]!r} there or pass --var {exc.args[0]}=SECONDS",
        ) from exc
    except (TypeError, ValueError) as exc:
        raise InvalidExperiment(path, f"{where} is {value!r}; expected seconds") from exc


def _set(overrides: dict[str, float] | None) -> list[str]:
    return [key for key in TIMELINE_KEYS if key in (overrides or {})]


def _timeline_override(path: Path, key: str, overrides: dict[str, float] | None) -> float:
    seconds = float((overrides or {})[key])
    if seconds < 0:
        raise InvalidExperiment(path, f"--var {key}={seconds:g} is negative; expected seconds")
    return seconds


def _functions(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    return list(getattr(module, "__all__", []))


def _check_activity(path: Path, where: str, activity: Any) -> None:
    if not isinstance(activity, dict):
        raise InvalidExperiment(path, f"{where} must be an object with type, name and provider")
    if activity.get("type") not in ("action", "probe"):
        raise InvalidExperiment(
            path, f"{where}.type is {activity.get('type')!r}; expected action or probe"
        )
    if not activity.get("name"):
        raise InvalidExperiment(path, f"{where}.name is missing")
    provider = activity.get("provider")
    if not isinstance(provider, dict) or provider.get("type") not in ("python", "process", "http"):
        raise InvalidExperiment(path, f"{where}.provider must be a python, process or http one")
    if provider["type"] != "python":
        return
    module = provider.get("module")
    if isinstance(module, str) and module.startswith("gameday.") and module not in PROVIDER_MODULES:
        raise InvalidExperiment(
            path,
            f"unknown module {module!r} in {where}; expected one of {', '.join(PROVIDER_MODULES)}",
        )
    if module not in PROVIDER_MODULES:
        _check_foreign(path, where, module, provider.get("func"))
        return
    func = provider.get("func")
    valid = _functions(module)
    if func not in valid:
        kind = "fault" if module.endswith(("faults", "processes")) else "probe"
        raise InvalidExperiment(
            path, f"unknown {kind} {func!r} in {where}; expected one of {', '.join(valid)}"
        )
    arguments = provider.get("arguments", {})
    if not isinstance(arguments, dict):
        raise InvalidExperiment(path, f"{where}.provider.arguments must be an object")


def _check_foreign(path: Path, where: str, module: Any, func: Any) -> None:
    """A user's (or an extension's) python provider: it imports and has the function."""
    if not isinstance(module, str) or not module:
        raise InvalidExperiment(path, f"{where}.provider.module is missing")
    try:
        loaded = importlib.import_module(module)
    except Exception as exc:  # any import failure is the experiment's problem, in one line
        raise InvalidExperiment(
            path,
            f"{where}: module {module!r} does not import ({type(exc).__name__}: {exc}); "
            "install it in gameday's environment (e.g. pip install chaostoolkit-toxiproxy)",
        ) from None
    if not isinstance(func, str) or not callable(getattr(loaded, func, None)):
        raise InvalidExperiment(path, f"{where}: module {module!r} has no function {func!r}")


def parse_overrides(pairs: list[str]) -> dict[str, float]:
    """`--var NAME=SECONDS` pairs (numbers: times and thresholds)."""
    overrides: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--var {pair!r}: expected NAME=NUMBER, e.g. --var fault_s=10")
        try:
            overrides[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(
                f"--var {pair!r}: {value!r} is not a number; e.g. --var {name.strip()}=10"
            ) from None
    return overrides


def check_overrides(overrides: dict[str, float], experiments: list[Experiment]) -> None:
    """A --var must name a configuration key of some experiment (a typo would be ignored)."""
    declared = {k for e in experiments for k in e.data.get("configuration") or {}}
    known = sorted(declared | set(TIMELINE_KEYS))
    for name in overrides:
        if name not in known:
            raise ConfigError(
                f"--var {name}: no experiment has this configuration key; "
                f"expected one of {', '.join(known) or '(none)'}"
            )


def load_experiment(path: Path, overrides: dict[str, float] | None = None) -> Experiment:
    if not path.is_file():
        raise ConfigError(f"experiment file {path} does not exist: see experiments/ for examples")
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise InvalidExperiment(path, f"not valid JSON/YAML: {first}") from exc
    if not isinstance(data, dict):
        raise InvalidExperiment(path, "the experiment must be an object")
    for key in ("title", "description", "method"):
        if not data.get(key):
            raise InvalidExperiment(path, f"'{key}' is missing")
    if not isinstance(data["method"], list):
        raise InvalidExperiment(path, "'method' must be a list of activities")
    hypothesis = data.get("steady-state-hypothesis") or {}
    for i, probe in enumerate(hypothesis.get("probes", [])):
        _check_activity(path, f"steady-state-hypothesis.probes[{i}]", probe)
    for section in ("method", "rollbacks"):
        for i, activity in enumerate(data.get(section, []) or []):
            _check_activity(path, f"{section}[{i}]", activity)
    configuration = data.get("configuration") or {}
    if not isinstance(configuration, dict):
        raise InvalidExperiment(path, "'configuration' must be an object")
    known = {k: v for k, v in (overrides or {}).items() if k in configuration}
    configuration = {**configuration, **known}
    for i, activity in enumerate(data["method"]):
        for key, value in (activity.get("pauses") or {}).items():
            _checked_seconds(path, f"method[{i}].pauses.{key}", value, configuration)
    extension: dict[str, Any] = next(
        (e for e in data.get("extensions", []) if e.get("name") == "gameday"), {}
    )
    times = {
        key: _checked_seconds(path, f"extension gameday.{key}", extension[key], configuration)
        for key in TIMELINE_KEYS
        if key in extension
    }
    times.update({key: _timeline_override(path, key, overrides) for key in _set(overrides)})
    return Experiment(
        path=path,
        name=path.stem,
        title=str(data["title"]),
        data=data,
        warmup_s=times.get("warmup_s", DEFAULT_WARMUP_S),
        recovery_s=times.get("recovery_s", DEFAULT_RECOVERY_S),
        configuration=configuration,
    )
