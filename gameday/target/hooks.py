"""Entry points the harness calls (optional); it never imports a target's modules by
name. Each is 'module:function', importable where gameday runs.

    hooks:
      seed: mypackage.gameday_hooks:seed         # fill the service with data
      warmup: mypackage.gameday_hooks:warmup     # before the measured load
      token: mypackage.gameday_hooks:token       # a token for auth, when not env/file
"""

from __future__ import annotations

from gameday.target._types import EntryPoint, Strict


class Hooks(Strict):
    seed: EntryPoint | None = None
    warmup: EntryPoint | None = None
    token: EntryPoint | None = None
