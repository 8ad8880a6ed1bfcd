"""The data tier's opt-in flags (`stack up --redis-sentinel|--pgbouncer|--wal-archive`):
their ports, the stack record, and a later `up` that keeps what runs (pure logic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.settings import EPHEMERAL_PORTS, StackSettings
from gameday.stack import supervisor
from gameday.stack.registry import OPT_IN_FLAGS


def test_every_port_is_outside_the_ephemeral_range_and_collides_with_no_other() -> None:
    settings = StackSettings()
    ports = [v for k, v in settings.model_dump().items() if k.endswith("_port")]
    assert not [p for p in ports if p in EPHEMERAL_PORTS]
    assert len(ports) == len(set(ports))


def test_the_opt_in_flags_are_off_by_default() -> None:
    settings = StackSettings()
    assert [flag for flag in OPT_IN_FLAGS if getattr(settings, flag)] == []


@pytest.mark.parametrize("flag", OPT_IN_FLAGS)
def test_the_stack_record_remembers_each_flag(tmp_path: Path, flag: str) -> None:
    supervisor._write_record(StackSettings(state_dir=tmp_path, **{flag: True}), ["postgres"])
    recorded = supervisor.recorded_settings(StackSettings(state_dir=tmp_path))
    assert getattr(recorded, flag) is True
    assert [f for f in OPT_IN_FLAGS if f != flag and getattr(recorded, f)] == []


@pytest.mark.parametrize("flag", OPT_IN_FLAGS)
def test_a_flag_given_as_an_env_var_reaches_the_settings(
    monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    monkeypatch.setenv(f"GAMEDAY_{flag.upper()}", "1")
    assert getattr(StackSettings(), flag) is True
