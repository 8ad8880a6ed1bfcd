"""`gameday token`: a signed bearer token for a target, on stdout only, from the target
profile's `token` hook (--profile; by default the reference service's,
service/gameday_hooks.py, called through targets/reference.yaml).

    TOKEN=$(gameday token --tenant acme --role user --ttl 1h)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:28080/v1/search?q=hello

The reference hook signs with the current key of the service's key set
(SERVICE_AUTH_KEYS_FILE, or SERVICE_AUTH_JWT_KEY / SERVICE_AUTH_JWT_KEY_FILE; the local
development key by default), its key id in the ``kid`` header: the settings the service
reads, so the token is accepted by a service started by the stack. The hook is given
`tenants=[--tenant]` and `params` role, ttl_s and subject.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gameday.errors import ConfigError
from gameday.target import REFERENCE_PROFILE, HookContext, call_hook, load_profile
from gameday.timespan import parse_timespan

ROLES = ("admin", "user", "read-only")


def token(
    tenant: Annotated[str, typer.Option(envvar="GAMEDAY_TENANT", help="the token's tenant")],
    role: Annotated[
        str, typer.Option(envvar="GAMEDAY_ROLE", help="admin, user or read-only")
    ] = "user",
    ttl: Annotated[
        str, typer.Option(envvar="GAMEDAY_TOKEN_TTL", help="lifetime: 30s, 5m, 1h, 1h30m")
    ] = "1h",
    subject: Annotated[
        str | None, typer.Option(envvar="GAMEDAY_SUBJECT", help="the sub claim")
    ] = None,
    profile: Annotated[
        Path,
        typer.Option(envvar="GAMEDAY_PROFILE", help="target profile whose token hook signs"),
    ] = REFERENCE_PROFILE,
) -> None:
    """Print a signed JWT (claims sub, tenant, role, aud, exp; header kid) and nothing else."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    ttl_s = parse_timespan(ttl, what="--ttl")
    if ttl_s <= 0:
        raise ConfigError(f"--ttl must be positive, got {ttl!r}")
    target = load_profile(profile)
    params: dict[str, object] = {"role": role, "ttl_s": ttl_s}
    if subject is not None:
        params["subject"] = subject
    context = HookContext(base_url=target.base_url, tenants=[tenant], params=params)
    signed = call_hook(target, "token", context)
    sys.stdout.write(signed + "\n")


def register(app: typer.Typer) -> None:
    app.command("token")(token)
