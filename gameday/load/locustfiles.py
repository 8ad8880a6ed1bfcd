"""The target's Locust files, found and checked before any load starts.

    paths = locustfile_paths(["load/locustfile.py", "mycompany.load.users"])
    classes = check_locustfiles(paths)   # ["Browser", "Buyer"]: the user classes defined

`check_locustfiles` imports the files in a subprocess, as Locust will (Locust
monkey-patches the standard library, so this process never imports it), and turns a
file that fails to import into one ConfigError line holding the exception.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from importlib.machinery import PathFinder
from pathlib import Path

from gameday.errors import ConfigError
from gameday.settings import PROJECT_ROOT

# The plugin's file, which `gameday run` passes to Locust before the target's files.
PLUGIN_LOCUSTFILE = Path(__file__).resolve().parent.parent / "plugin" / "locustfile.py"
CHECK_TIMEOUT_S = 60.0


def locustfile_paths(files: Sequence[str | Path]) -> list[Path]:
    """`.py` files as `locust -f` takes them: paths as given (relative ones from the
    current directory), modules (`pkg.module`, no '/' and no '.py') found on sys.path
    without running any of their code. ConfigError (one line) for one not found."""
    paths: list[Path] = []
    for entry in files:
        text = str(entry)
        if isinstance(entry, Path) or "/" in text or text.endswith(".py"):
            path = Path(text).resolve()
            if not path.is_file():
                raise ConfigError(f"Locust file {text} not found: give an existing .py file")
        else:
            path = _module_file(text)
        if "," in str(path):
            raise ConfigError(f"Locust file {path}: a comma in its path; Locust splits -f on ','")
        paths.append(path)
    return paths


def _module_file(name: str) -> Path:
    search: list[str] | None = [str(Path.cwd()), *sys.path]
    spec = None
    parts = name.split(".")
    for i in range(len(parts)):
        spec = PathFinder.find_spec(".".join(parts[: i + 1]), search)
        if spec is None:
            break
        search = list(spec.submodule_search_locations or [])
    origin = getattr(spec, "origin", None)
    if spec is None or not origin or not str(origin).endswith(".py"):
        raise ConfigError(
            f"Locust module {name!r} not found on the Python path: give its .py file "
            "or install the package that holds it"
        )
    return Path(origin).resolve()


def check_locustfiles(files: Sequence[str | Path]) -> list[str]:
    """Imports the Locust files in a subprocess, as Locust would; returns the names of the
    user classes they define, sorted. ConfigError (one line) when one fails to import."""
    paths = locustfile_paths(files)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "gameday.plugin.check", *map(str, paths)],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            timeout=CHECK_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(
            f"importing the Locust files took over {CHECK_TIMEOUT_S:.0f} s: "
            "a Locust file must do nothing at import time"
        ) from exc
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ConfigError(lines[-1] if lines else f"the Locust file check exited {done.returncode}")
    try:
        classes = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise ConfigError(
            f"the Locust file check printed no class list: {done.stdout[-200:]!r}"
        ) from exc
    return sorted(str(c) for c in classes)
