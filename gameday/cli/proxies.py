"""`gameday proxies apply|status|reset --profile P`: a target profile's dependencies as
Toxiproxy proxies, on the Toxiproxy server the profile names (local or remote).

    gameday proxies apply  --profile targets/shop.yaml   # create or correct; idempotent
    gameday proxies status --profile targets/shop.yaml   # exit 1 if one is missing/differs
    gameday proxies reset  --profile targets/shop.yaml   # remove toxics, enable all

Only the profile's proxies are touched. Exit codes: 0 done (status: all as the profile
says), 1 status or reset found a proxy missing or different, 2 a bad profile, Toxiproxy
unreachable, or a listen port taken (one line each).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gameday.target import load_profile
from gameday.target.proxies import apply_proxies, check_proxies, connect, reset_proxies

app = typer.Typer(
    help="Create, check and clear a target profile's Toxiproxy proxies.",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)
STATE_STYLE = {"ok": "[green]ok[/]", "missing": "[red]missing[/]", "differs": "[red]differs[/]"}

Profile = Annotated[
    Path,
    typer.Option("--profile", envvar="GAMEDAY_PROFILE", help="the target profile (YAML)"),
]


@app.command("apply")
def apply_cmd(profile: Profile) -> None:
    """Create each dependency's proxy, or correct its listen/upstream; a proxy that
    already matches is left as it is (its toxics and enabled state too)."""
    target = load_profile(profile)
    with connect(target, source=str(profile)) as client:
        actions = apply_proxies(client, target)
    for name, action in actions.items():
        dependency = target.dependencies[name]
        console.print(f"{name:<12} {action:<9} {dependency.listen} -> {dependency.upstream}")
    console.print(f"{len(actions)} proxies on {target.toxiproxy.url}")


@app.command("status")
def status_cmd(profile: Profile) -> None:
    """Each dependency's proxy as Toxiproxy has it; exit 1 if one is missing or its
    listen/upstream differ from the profile."""
    target = load_profile(profile)
    with connect(target, source=str(profile)) as client:
        checks = check_proxies(client, target)
    table = Table("name", "state", "listen", "upstream", "enabled", "toxics")
    for check in checks:
        state = STATE_STYLE[check.state]
        found = check.found
        if found is None:
            table.add_row(check.name, state, check.wanted.listen, check.wanted.upstream, "-", "-")
            continue
        table.add_row(
            check.name,
            state,
            found.listen,
            found.upstream,
            "yes" if found.enabled else "[yellow]no[/]",
            ", ".join(t.name for t in found.toxics) or "-",
        )
    console.print(table)
    wrong = [c for c in checks if c.state != "ok"]
    for check in wrong:
        console.print(
            f"{check.name}: {check.state} (profile: {check.wanted.listen} -> "
            f"{check.wanted.upstream}); run `gameday proxies apply --profile {profile}`"
        )
    raise typer.Exit(1 if wrong else 0)


@app.command("reset")
def reset_cmd(profile: Profile) -> None:
    """Remove every toxic of the profile's proxies and enable them; other proxies on
    the server are left alone. Exit 1 if one of them is missing."""
    target = load_profile(profile)
    with connect(target, source=str(profile)) as client:
        removed = reset_proxies(client, target)
    for name, toxics in removed.items():
        console.print(f"{name:<12} enabled, toxics removed: {', '.join(toxics) or 'none'}")
    missing = [name for name in target.dependencies if name not in removed]
    for name in missing:
        console.print(f"{name}: missing; run `gameday proxies apply --profile {profile}`")
    raise typer.Exit(1 if missing else 0)
