"""Wall-clock stamps as the run directory writes them (ISO 8601 UTC, milliseconds)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(epoch_s: float) -> str:
    """`iso(0.0) == "1970-01-01T00:00:00.000Z"`"""
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def epoch_of(wall: str) -> float:
    """The inverse of `iso` (any ISO 8601 time with an offset or a Z)."""
    return datetime.fromisoformat(wall.replace("Z", "+00:00")).timestamp()
