"""The reference service's hooks for the gameday harness (targets/reference.yaml names
them). The harness calls them through the profile; this module never imports gameday:
it only reads the context object it is given (`base_url`, `tenants`, `seed`,
`duration_s`, `run_dir`, `mix`, `params`).

    hooks:
      seed: service.gameday_hooks:seed        # the synthetic corpus, through `gameday seed`
      warmup: service.gameday_hooks:warmup    # the search engine, straight (no breaker)
      token: service.gameday_hooks:token      # one signed token for context.tenants[0]
      options: service.gameday_hooks:options  # the reference load's tokens and weights
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

# The load's tenants: a few heavy ones and a long tail (every tenant past the fifth: 5).
TENANT_WEIGHTS = [40.0, 25.0, 15.0, 10.0, 10.0]
TAIL_WEIGHT = 5.0
# The abusive tenant of the noisy_neighbour mix (the scenarios' Abuser sends as it; the
# stack gives it a small quota). scenarios/ name it gameday.load.config.NOISY_TENANT.
NOISY_TENANT = "tenant-noisy"
ABUSER = "Abuser"
DEFAULT_TENANT = "tenant-1"
TOKEN_TTL_MARGIN_S = 3600.0  # a token outlives the load by an hour


class Context(Protocol):
    """What this module reads of gameday's HookContext (structurally: no import)."""

    @property
    def base_url(self) -> str: ...
    @property
    def tenants(self) -> list[str]: ...
    @property
    def seed(self) -> int: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def run_dir(self) -> Path | None: ...
    @property
    def mix(self) -> dict[str, int]: ...
    @property
    def params(self) -> dict[str, Any]: ...


def token(context: Context) -> str:
    """A signed token for ``context.tenants[0]`` (tenant-1 without tenants), with the
    keys the service reads (SERVICE_AUTH_*). ``params``: ``role`` (default user),
    ``ttl_s`` (default: the load's length plus an hour), ``subject``."""
    tenant = context.tenants[0] if context.tenants else DEFAULT_TENANT
    params = context.params
    ttl_s = float(params.get("ttl_s", context.duration_s + TOKEN_TTL_MARGIN_S))
    return _mint(
        [tenant], ttl_s=ttl_s, role=str(params.get("role", "user")), subject=params.get("subject")
    )[tenant]


def options(context: Context) -> dict[str, Any]:
    """The reference load's values (scenarios/ read them with gameday.plugin.options()):
    one user token per tenant, the tenants' weights (40, 25, 15, 10, 10, then 5 each),
    and the noisy tenant's token when the mix has the Abuser."""
    ttl_s = context.duration_s + TOKEN_TTL_MARGIN_S
    tokens = _mint(context.tenants, ttl_s=ttl_s)
    weights = TENANT_WEIGHTS + [TAIL_WEIGHT] * max(0, len(context.tenants) - len(TENANT_WEIGHTS))
    tenant_weights = dict(zip(context.tenants, weights, strict=False))
    if ABUSER in context.mix:
        tokens |= _mint([NOISY_TENANT], ttl_s=ttl_s)
    return {"tokens": tokens, "tenant_weights": tenant_weights}


def seed(context: Context) -> None:
    """Loads the harness's synthetic corpus through the bulk API: runs ``gameday seed``
    (a command, not an import) for ``len(context.tenants)`` tenants with the context's
    seed. ``params``: ``docs`` (default 10000), ``wait_indexed`` (e.g. "2m")."""
    params = context.params
    argv = [
        _gameday_command(),
        "seed",
        "--url",
        context.base_url,
        "--docs",
        str(int(params.get("docs", 10_000))),
        "--tenants",
        str(max(1, len(context.tenants))),
        "--seed",
        str(context.seed),
    ]
    if params.get("wait_indexed"):
        argv += ["--wait-indexed", str(params["wait_indexed"])]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"gameday seed exited {done.returncode}")


def warmup(context: Context) -> str | None:
    """Warms the search engine straight (no breaker, no cache) until a round of
    searches is quick; returns the line to show. ``params``: ``opensearch_hosts``
    (the stack's, comma separated; default SERVICE_OPENSEARCH_HOSTS), ``alias``,
    ``budget_s``."""
    from service.search.warmup import warm_search
    from service.settings import OpenSearchSettings

    params = context.params
    settings = OpenSearchSettings()
    hosts = str(params.get("opensearch_hosts") or settings.hosts)
    return warm_search(
        [h.strip() for h in hosts.split(",") if h.strip()],
        alias=str(params.get("alias", settings.alias)),
        budget_s=float(params.get("budget_s", 90.0)),
    )


def _mint(
    tenants: list[str], *, ttl_s: float, role: str = "user", subject: str | None = None
) -> dict[str, str]:
    from service.settings import AuthSettings
    from service.tenants.auth import issue_token

    try:
        auth = AuthSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{where + ': ' if where else ''}{first['msg']}") from exc
    return {
        t: issue_token(auth, tenant=t, role=role, ttl_s=ttl_s, subject=subject) for t in tenants
    }


def _gameday_command() -> str:
    """The `gameday` command installed beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).with_name("gameday")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("gameday")
    if found is None:
        raise RuntimeError("the gameday command is not installed: pip install gameday")
    return found
