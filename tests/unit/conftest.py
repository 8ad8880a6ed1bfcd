"""Unit tests see the settings' defaults, whatever GAMEDAY_* the shell exports
(a developer running a second stack on other ports, say)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_gameday_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GAMEDAY_"):
            monkeypatch.delenv(name)
