"""Errors raised while reading an SLO file.

GamedayError
└── ConfigError
    └── SloFileError      the SLO file is unreadable or invalid; `.problems`
                          lists each one as `file:line: field: what`
"""

from __future__ import annotations

from pathlib import Path

from gameday.errors import ConfigError


class SloFileError(ConfigError):
    def __init__(self, path: Path | str, problems: list[str]) -> None:
        lines = "; ".join(problems) if len(problems) < 2 else "\n  " + "\n  ".join(problems)
        super().__init__(f"invalid SLO file {path}: {lines}")
        self.path = Path(path)
        self.problems = problems
