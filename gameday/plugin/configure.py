"""What the plugin does on Locust's `init` event, in every Locust process: read the run's
LoadConfig (`--gameday-config PATH`), keep the mix's user classes with the mix's weights
and the run's headers, install the capture, and put the run's shape in place."""

from __future__ import annotations  # noqa: I001  (locust first, see below)

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from locust import HttpUser, User
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

from gameday.errors import ConfigError
from gameday.load.config import CONFIG_OPTION, LoadConfig
from gameday.load.mix import check_mix
from gameday.plugin import capture
from gameday.plugin.arrivals import open_arrivals
from gameday.plugin.shape import RunShape, new_shape


def add_options(parser: argparse.ArgumentParser, **_: Any) -> None:
    parser.add_argument(
        CONFIG_OPTION,
        metavar="PATH",
        default=None,
        help="the run's LoadConfig as a JSON file (gameday run writes load-config.json)",
    )


def configure(environment: Environment, **_: Any) -> None:
    # The engine stops Locust with SIGINT (its KeyboardInterrupt path writes the results).
    # A harness started as a background job (`cmd &` in a script, some CI runners) passes
    # SIGINT down ignored, and Python then never raises KeyboardInterrupt: take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    path = getattr(environment.parsed_options, "gameday_config", None)
    if not path:
        sys.exit(f"gameday's Locust plugin needs {CONFIG_OPTION} PATH (a LoadConfig JSON file)")
    config = LoadConfig.model_validate_json(Path(path).read_text())
    # Locust annotates it dict[str, User]; it holds classes
    available: dict[str, type[User]] = dict(environment.available_user_classes or {})  # type: ignore[arg-type]
    mix = config.user_mix
    try:
        check_mix(mix, available, name=config.scenario)
    except ConfigError as exc:
        sys.exit(str(exc))
    selected = {
        _for_run(available[name], weight, config.headers, environment.host): weight
        for name, weight in mix.items()
    }
    if config.model == "open":
        environment.user_classes[:] = [open_arrivals(config, selected)]
    else:
        environment.user_classes[:] = list(selected)
    if not isinstance(environment.shape_class, RunShape):  # a shape of the user's came first
        shape = new_shape()
        shape.runner = environment.runner
        environment.shape_class = shape
    capture.install(environment, config)


def _for_run(
    user_class: type[User], weight: int, headers: dict[str, str], host: str | None
) -> type[User]:
    """The class as this run uses it: same name, the mix's weight, the run's headers on
    every request of its client, the run's host."""
    body: dict[str, Any] = {
        "weight": weight,
        "abstract": False,
        "__module__": user_class.__module__,
    }
    if host:
        body["host"] = host
    if headers and issubclass(user_class, FastHttpUser):
        body["default_headers"] = {**(user_class.default_headers or {}), **headers}
    elif headers and issubclass(user_class, HttpUser):

        def __init__(self: HttpUser, environment: Environment) -> None:
            user_class.__init__(self, environment)
            self.client.headers.update(headers)

        body["__init__"] = __init__
    made: type[User] = type(user_class.__name__, (user_class,), body)
    return made
