"""`gameday seed`: load a deterministic synthetic corpus through the bulk API.

gameday seed --docs 100000 --tenants 5 --seed 42
gameday seed --docs 20000 --wait-indexed 5m   # also time until search sees them all

The bulk API is the reference service's; its tokens come from the target profile's
`token` hook (--profile, default targets/reference.yaml), one per tenant.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gameday.errors import ConfigError
from gameday.seed import SeedPlan, profile_tokens, seed_service, tenant_names
from gameday.settings import StackSettings
from gameday.target import REFERENCE_PROFILE, load_profile
from gameday.timespan import parse_timespan

console = Console(highlight=False, soft_wrap=True, stderr=True)


def seed(
    docs: Annotated[
        int, typer.Option(envvar="GAMEDAY_SEED_DOCS", help="documents in all")
    ] = 10_000,
    tenants: Annotated[int, typer.Option(envvar="GAMEDAY_SEED_TENANTS", help="tenant-1..N")] = 5,
    seed: Annotated[int, typer.Option(envvar="GAMEDAY_SEED", help="same seed, same corpus")] = 42,
    url: Annotated[
        str | None, typer.Option(envvar="GAMEDAY_SERVICE_URL", help="default: the stack's")
    ] = None,
    concurrency: Annotated[
        int, typer.Option(envvar="GAMEDAY_SEED_CONCURRENCY", help="bulk requests in flight")
    ] = 4,
    batch_size: Annotated[int, typer.Option(envvar="GAMEDAY_SEED_BATCH", help="<= 500")] = 500,
    wait_indexed: Annotated[
        str | None,
        typer.Option(envvar="GAMEDAY_SEED_WAIT_INDEXED", help="wait until searchable, e.g. 2m"),
    ] = None,
    profile: Annotated[
        Path,
        typer.Option(
            envvar="GAMEDAY_PROFILE",
            help="target profile whose token hook signs the tenants' tokens",
        ),
    ] = REFERENCE_PROFILE,
) -> None:
    """Seed the service; prints progress and the rate (documents per second)."""
    try:
        plan = SeedPlan(docs=docs, tenants=tenants, seed=seed, batch_size=batch_size)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    wait_s = parse_timespan(wait_indexed, what="--wait-indexed") if wait_indexed else 0.0
    base_url = url or StackSettings().service_url
    tokens = profile_tokens(load_profile(profile), tenant_names(tenants))
    with Progress(
        TextColumn("seeding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8.0f} docs/s"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("seed", total=docs, rate=0.0)

        def advance(done: int) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            bar.update(task, completed=done, rate=done / elapsed if elapsed else 0.0)

        result = asyncio.run(
            seed_service(
                plan,
                base_url=base_url,
                tokens=tokens,
                concurrency=concurrency,
                progress=advance,
                wait_indexed_s=wait_s,
            )
        )
    console.print(
        f"seeded {result.docs} documents for {result.tenants} tenants in "
        f"{result.elapsed_s:.1f}s: {result.rate_docs_s:.0f} docs/s accepted"
    )
    if result.indexed_after_s is not None:
        console.print(
            f"all searchable after {result.indexed_after_s:.1f}s: "
            f"{result.indexed_rate_docs_s:.0f} docs/s end to end"
        )


def register(app: typer.Typer) -> None:
    app.command("seed")(seed)
