"""Small value types shared by the profile's parts: a strict base model, an entry
point `module:function`, a `host:port` address, a command line."""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Strict(BaseModel):
    """Every object of the profile forbids unknown fields, so a typo is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _entry_point(value: str) -> str:
    if not _ENTRY_POINT.match(value):
        raise ValueError(
            f"{value!r} is not an entry point; expected 'module:function' "
            "(e.g. mypackage.hooks:seed)"
        )
    return value


def _address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not an address; expected host:port (e.g. 127.0.0.1:5432)")
    if not host:
        raise ValueError(f"{value!r} has no host; expected host:port (e.g. 127.0.0.1:5432)")
    return value


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a name; use letters, digits, '.', '_' and '-'")
    return value


def _command(value: Any) -> Any:
    return shlex.split(value) if isinstance(value, str) else value


EntryPoint = Annotated[
    str,
    AfterValidator(_entry_point),
    Field(description="a callable as 'module:function'", examples=["mypackage.hooks:seed"]),
]
Address = Annotated[
    str,
    AfterValidator(_address),
    Field(description="host:port", examples=["127.0.0.1:5432"]),
]
Name = Annotated[str, AfterValidator(_name)]
Command = Annotated[
    list[str],
    BeforeValidator(_command),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
                {"type": "string", "minLength": 1},
            ]
        }
    ),
    Field(
        min_length=1,
        description="argv, or one string split as a shell would (no shell runs it)",
        examples=[["pg_ctl", "status"], "cat /run/app.pid"],
    ),
]
