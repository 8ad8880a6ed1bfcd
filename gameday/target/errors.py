"""Errors raised while reading a target profile.

GamedayError
└── ConfigError
    └── TargetProfileError   the profile is unreadable or invalid; `.problems` lists
                             each one as `file:line: field: what`
"""

from __future__ import annotations

from pathlib import Path

from gameday.errors import ConfigError


class TargetProfileError(ConfigError):
    def __init__(self, path: Path | str, problems: list[str]) -> None:
        # One line, always: the CLI prints it as the whole error.
        super().__init__(f"invalid target profile {path}: {'; '.join(problems)}")
        self.path = Path(path)
        self.problems = problems
