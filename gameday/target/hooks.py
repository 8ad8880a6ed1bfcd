"""Entry points the harness calls (optional); it never imports a target's modules by
name. Each is 'module:function', importable where gameday runs (or a module in the
profile's own folder), and takes one argument, a `HookContext`.

    hooks:
      seed: mypackage.gameday_hooks:seed         # fill the service with data -> None
      warmup: mypackage.gameday_hooks:warmup     # before the measured load -> None
      token: mypackage.gameday_hooks:token       # a token for auth -> str
      options: mypackage.gameday_hooks:options   # values for the Locust files -> dict

    context = HookContext(base_url=profile.base_url, tenants=["tenant-1"], seed=42)
    token = call_hook(profile, "token", context)   # ConfigError (one line) on any failure

A hook module needs nothing from gameday: it reads the context's attributes
(`context.base_url`, `context.tenants`, ...), so the target's package never imports
the harness either.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gameday.errors import ConfigError
from gameday.settings import PROJECT_ROOT
from gameday.target._types import EntryPoint, Strict

if TYPE_CHECKING:
    from gameday.target.profile import TargetProfile

# The reference service's profile: the reference commands (`gameday seed`, `gameday
# token`, `stack up`'s warm-up) call its hooks. An installed harness without the
# repository has none: those commands then take --profile.
REFERENCE_PROFILE = PROJECT_ROOT / "targets" / "reference.yaml"

HookName = Literal["seed", "warmup", "token", "options"]


class Hooks(Strict):
    seed: EntryPoint | None = Field(default=None, description="seed(context) -> None")
    warmup: EntryPoint | None = Field(default=None, description="warmup(context) -> None")
    token: EntryPoint | None = Field(default=None, description="token(context) -> str")
    options: EntryPoint | None = Field(
        default=None, description="options(context) -> dict, handed to the Locust files"
    )


class HookContext(BaseModel):
    """What a hook is told about the run (or the command) that calls it.

    HookContext(base_url="http://127.0.0.1:8080", tenants=["tenant-1", "tenant-2"],
                seed=42, duration_s=300, run_dir=Path("reports/r1"),
                mix={"Searcher": 70, "Writer": 30}, params={"role": "admin"})
    """

    model_config = ConfigDict(frozen=True)

    base_url: str = Field(description="the target's base URL")
    tenants: list[str] = Field(default_factory=list, description="the tenants the load uses")
    seed: int = Field(default=42, description="the run's recorded --seed")
    duration_s: float = Field(default=0.0, ge=0, description="the load's length; 0 outside a run")
    run_dir: Path | None = Field(default=None, description="the run directory, in a run")
    mix: dict[str, int] = Field(default_factory=dict, description="user class -> weight")
    params: dict[str, Any] = Field(
        default_factory=dict, description="values one command hands its hook (documented there)"
    )


class HookFailed(ConfigError):
    """A hook could not be imported, or it raised, or it returned the wrong type."""

    def __init__(self, message: str, *, hook: str) -> None:
        super().__init__(message)
        self.hook = hook


_RETURNS: dict[str, tuple[type, str]] = {
    "token": (str, "a token (str)"),
    "options": (dict, "a dict"),
}


def call_hook(profile: TargetProfile, name: HookName, context: HookContext) -> Any:
    """Imports `hooks.<name>` of the profile and calls it with the context; every
    failure is one `HookFailed` line naming the field and the entry point."""
    field = f"hooks.{name}"
    entry = getattr(profile.hooks, name)
    if entry is None:
        raise HookFailed(
            f"target profile {profile.name} has no {field}: add `hooks: {{{name}: "
            "module:function}` to the profile",
            hook=field,
        )
    function = load_entry_point(entry, field=field, folder=profile.folder)
    try:
        result = function(context)
    except Exception as exc:  # a hook's own failure: one line, the CLI's exit 2
        raise HookFailed(f"{field} ({entry}) failed: {_first_line(exc)}", hook=field) from exc
    expected = _RETURNS.get(name)
    if expected is not None and not isinstance(result, expected[0]):
        raise HookFailed(
            f"{field} ({entry}) returned {type(result).__name__}, expected {expected[1]}",
            hook=field,
        )
    return result


def load_entry_point(entry: str, *, field: str, folder: Path | None = None) -> Callable[..., Any]:
    """'module:function' -> the callable; a module not found on the path is looked for
    in `folder` too (a profile's hooks may sit next to it)."""
    module_name, _, attribute = entry.partition(":")
    try:
        module = _import(module_name, folder)
    except Exception as exc:
        raise HookFailed(
            f"{field}: cannot import {module_name!r} ({entry}): {_first_line(exc)}; install "
            "the target's package where gameday runs, or fix the entry point in the profile",
            hook=field,
        ) from exc
    target: Any = module
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise HookFailed(
                f"{field}: module {module_name!r} has no {attribute!r} ({entry}): "
                "fix the entry point in the profile",
                hook=field,
            )
    if not callable(target):
        raise HookFailed(f"{field}: {entry} is not callable", hook=field)
    return target  # type: ignore[no-any-return]


def _import(module_name: str, folder: Path | None) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.partition(".")[0]
        if folder is None or exc.name != top or str(folder) in sys.path:
            raise
    sys.path.append(str(folder))
    return importlib.import_module(module_name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else "") or type(exc).__name__
