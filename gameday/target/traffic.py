"""The load: Locust files with ordinary user classes, and named mixes of them.

traffic:
  locustfile: ../scenarios/locustfile.py   # a path (from the profile's folder) or
                                           # a module, or a list of them
  mixes:
    browse: {Reader: 80, Writer: 20}       # user class -> weight
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PositiveInt, WithJsonSchema, field_validator

from gameday.target._types import Strict


def _one_or_more(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Mix = Annotated[dict[str, PositiveInt], Field(min_length=1)]


class Traffic(Strict):
    locustfile: Annotated[
        list[str],
        BeforeValidator(_one_or_more),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "minLength": 1},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ]
            }
        ),
        Field(
            min_length=1,
            description="Locust files: paths relative to the profile's folder, or modules",
        ),
    ]
    mixes: dict[str, Mix] = Field(
        default_factory=dict, description="mix name -> {user class: weight}"
    )

    @field_validator("locustfile")
    @classmethod
    def _not_blank(cls, files: list[str]) -> list[str]:
        if any(not f.strip() for f in files):
            raise ValueError("a Locust file path or module must not be empty")
        return files
