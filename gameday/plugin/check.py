"""`python -m gameday.plugin.check FILE.py...`: imports Locust files as Locust does and
prints the names of the user classes they define as one JSON list; a file that fails to
import prints one line (the file and the exception) to stderr and exits 1. Run by
gameday.load.locustfiles.check_locustfiles in a subprocess, before any load starts."""

from __future__ import annotations  # noqa: I001  (locust first, see below)

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import inspect
import json
import sys

from locust.util.load_locustfile import load_locustfile


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def main(paths: list[str]) -> int:
    defined: dict[str, str] = {}
    for path in paths:
        try:
            user_classes, _ = load_locustfile(path)
        except BaseException as exc:  # noqa: B036  (sys.exit in a Locust file, too)
            print(f"Locust file {path} failed to import: {_one_line(exc)}", file=sys.stderr)  # noqa: T201
            return 1
        for name, user_class in user_classes.items():
            source = inspect.getfile(user_class)
            if defined.setdefault(name, source) != source:
                print(  # noqa: T201
                    f"Locust files define two user classes named {name}: in {defined[name]} "
                    f"and {source}; rename one",
                    file=sys.stderr,
                )
                return 1
    print(json.dumps(sorted(defined)))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
