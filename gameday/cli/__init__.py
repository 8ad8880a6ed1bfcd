"""The `gameday` command. Each command group lives in its own module.

Exit codes: 0 pass, 1 an SLO or regression verdict failed (or, for
`stack status`, a component is unhealthy), 2 usage or harness error.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from gameday.cli import (
    capacity,
    compare,
    gameday_cmd,
    init,
    matrix,
    proxies,
    report,
    run,
    seed,
    stack,
    target,
    token,
)
from gameday.errors import GamedayError

app = typer.Typer(
    name="gameday",
    help="Put a real service under load, break its dependencies, judge the SLOs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack.app, name="stack")
app.add_typer(proxies.app, name="proxies")
app.add_typer(target.app, name="target")
run.register(app)
gameday_cmd.register(app)
matrix.register(app)
token.register(app)
seed.register(app)
report.register(app)
compare.register(app)
capacity.register(app)
init.register(app)

_err = Console(stderr=True)


def main() -> None:
    try:
        app()
    except GamedayError as exc:
        _err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
