"""Reusable constrained types: text PostgreSQL and OpenSearch will accept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field


def _storable_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (no lone surrogates)") from exc
    return value


def _aware_in_range(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not 1900 <= value.astimezone(UTC).year <= 2200:
        raise ValueError("year must be between 1900 and 2200")
    return value


StorableText = Annotated[str, AfterValidator(_storable_text)]
Timestamp = Annotated[datetime, AfterValidator(_aware_in_range)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
