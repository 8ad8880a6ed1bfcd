"""`stack up --wal-archive` has no component of its own: PostgreSQL restarted on its own
(`restart_component`, a restore) or an `up` while it runs keeps archiving."""

from __future__ import annotations

from pathlib import Path

from gameday.settings import StackSettings
from gameday.stack.supervisor import _keep_running_opt_ins


def test_a_restart_of_postgres_or_an_up_while_it_runs_keeps_the_recorded_archive(
    tmp_path: Path,
) -> None:
    recorded = StackSettings(state_dir=tmp_path, wal_archive=True)
    plain = StackSettings(state_dir=tmp_path)
    assert _keep_running_opt_ins(plain, recorded, ["postgres"]).wal_archive is True
    assert _keep_running_opt_ins(plain, recorded, [], only=["postgres"]).wal_archive is True


def test_an_up_of_a_stopped_stack_without_the_flag_does_not_archive(tmp_path: Path) -> None:
    recorded = StackSettings(state_dir=tmp_path, wal_archive=True)
    plain = StackSettings(state_dir=tmp_path)
    assert _keep_running_opt_ins(plain, recorded, []).wal_archive is False
    unrecorded = StackSettings(state_dir=tmp_path)
    assert _keep_running_opt_ins(plain, unrecorded, ["postgres"]).wal_archive is False
