"""How to find a component's process for process faults (optional): a pid file or a
command that prints the pid (kill and freeze signal it), and a command that starts
it again. `systemd_unit` is accepted but untested: these machines run no systemd.

    processes:
      postgres:
        pid_file: /var/run/postgresql/15-main.pid
        restart: [pg_ctlcluster, "15", main, start]
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from gameday.target._types import Command, Strict


class Process(Strict):
    pid_file: Path | None = Field(default=None, description="holds the pid")
    pid_command: Command | None = Field(default=None, description="prints the pid")
    systemd_unit: str | None = Field(default=None, description="untested: no systemd here")
    restart: Command | None = Field(default=None, description="starts it again")

    @model_validator(mode="after")
    def _one_way(self) -> Process:
        given = [n for n in ("pid_file", "pid_command", "systemd_unit") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of pid_file, pid_command, systemd_unit")
        return self
