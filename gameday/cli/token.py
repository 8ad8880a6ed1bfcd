"""`gameday token`: a signed bearer token for the reference service, on stdout only.

    TOKEN=$(gameday token --tenant acme --role user --ttl 1h)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:28080/v1/search?q=hello

Signed with the current key of the service's key set (SERVICE_AUTH_KEYS_FILE, or
SERVICE_AUTH_JWT_KEY / SERVICE_AUTH_JWT_KEY_FILE; the local development key by default),
its key id in the ``kid`` header: the settings the service reads, so the token is
accepted by a service started by the stack.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from gameday.errors import ConfigError
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
) -> None:
    """Print a signed JWT (claims sub, tenant, role, aud, exp; header kid) and nothing else."""
    from service.settings import AuthSettings
    from service.tenants.auth import issue_token

    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    ttl_s = parse_timespan(ttl, what="--ttl")
    if ttl_s <= 0:
        raise ConfigError(f"--ttl must be positive, got {ttl!r}")
    try:
        auth = AuthSettings()
        signed = issue_token(auth, tenant=tenant, role=role, ttl_s=ttl_s, subject=subject)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where + ': ' if where else ''}{first['msg']}") from exc
    except ValueError as exc:
        raise ConfigError(str(exc).splitlines()[0]) from exc
    sys.stdout.write(signed + "\n")


def register(app: typer.Typer) -> None:
    app.command("token")(token)
