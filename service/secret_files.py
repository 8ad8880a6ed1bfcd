"""Secrets from files, Docker/Kubernetes style: ``SERVICE_X_FILE=/run/secrets/x`` sets
``SERVICE_X`` to the file's content (one trailing newline dropped).

    class PostgresSettings(SecretSettings):           # SERVICE_POSTGRES_PASSWORD_FILE
        model_config = _config("SERVICE_POSTGRES_")

Setting both ``SERVICE_X`` and ``SERVICE_X_FILE`` is an error (which one would win is
a guess the operator should not have to make); so is a ``_FILE`` naming a missing file.
Arguments given to the constructor still win over both, so tests can inject values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


def read_secret_file(path: str | Path, *, what: str) -> str:
    """The secret in ``path`` without its trailing newline; a clear error otherwise."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ValueError(f"{what} points at {file}, which does not exist") from exc
    except OSError as exc:
        raise ValueError(f"{what}: cannot read {file}: {exc.strerror}") from exc
    value = text[:-1] if text.endswith("\n") else text
    if not value:
        raise ValueError(f"{what} points at {file}, which is empty")
    return value


class FileSecretsSource(PydanticBaseSettingsSource):
    """``<ENV NAME>_FILE`` for every field of the settings class."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ does the work for all fields at once

    def __call__(self) -> dict[str, Any]:
        prefix = str(self.config.get("env_prefix", ""))
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            env_name = (field.alias or f"{prefix}{name}").upper()
            file_var = f"{env_name}_FILE"
            path = os.environ.get(file_var)
            if not path:
                continue
            if os.environ.get(env_name):
                raise ValueError(f"set {env_name} or {file_var}, not both")
            found[name] = read_secret_file(path, what=file_var)
        return found


class SecretSettings(BaseSettings):
    """A settings class whose every field may also come from ``<ENV NAME>_FILE``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Constructor arguments, then _FILE secrets, then plain env vars.
        return (init_settings, FileSecretsSource(settings_cls), env_settings, dotenv_settings)


def dsn_with(
    dsn: str, *, password: str | None = None, query: dict[str, str | None] | None = None
) -> str:
    """``dsn`` with its password replaced and query parameters set (``None`` leaves one)."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if password is not None:
        userinfo, at, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0] if at else ""
        netloc = f"{user}:{quote(password, safe='')}@{host}"
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, value in (query or {}).items():
        if value is not None:
            params[name] = value
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(params)))
