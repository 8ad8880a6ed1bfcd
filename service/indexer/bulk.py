"""Pure parts of the indexer: events to bulk actions, bulk item results to outcomes.

External versioning makes indexing idempotent: OpenSearch refuses a version that is
not newer than the stored one (409), which for us means "already there": success.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson


class Outcome(Enum):
    DONE = "done"  # indexed, deleted, or superseded by a newer version
    RETRY = "retry"  # worth another attempt
    DEAD = "dead"  # retrying cannot help: straight to the dead-letter queue


class InvalidEvent(ValueError):
    pass


@dataclass(frozen=True)
class Event:
    op: str
    tenant_id: str
    id: str
    version: int
    doc: dict[str, Any] | None


def parse_message(body: bytes) -> list[dict[str, Any]]:
    """A message holds one event, or ``{"events": [...]}`` (one per write request)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        events = data["events"]
        if not events or not all(isinstance(e, dict) for e in events):
            raise InvalidEvent("events must be a non-empty list of objects")
        return list(events)
    if isinstance(data, dict):
        return [data]
    raise InvalidEvent("a message must be a JSON object")


def parse_event(data: object) -> Event:
    if not isinstance(data, dict):
        raise InvalidEvent("event must be a JSON object")
    op, tenant, doc_id, version = (
        data.get("op"),
        data.get("tenant_id"),
        data.get("id"),
        data.get("version"),
    )
    if op not in ("index", "delete"):
        raise InvalidEvent(f"unknown op {op!r}; expected index or delete")
    if not isinstance(tenant, str) or not tenant or not isinstance(doc_id, str) or not doc_id:
        raise InvalidEvent("tenant_id and id must be non-empty strings")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidEvent(f"version must be a positive integer, got {version!r}")
    doc = data.get("doc")
    if op == "index":
        if not isinstance(doc, dict):
            raise InvalidEvent("an index event needs a doc object")
        if doc.get("tenant_id") != tenant or doc.get("id") != doc_id:
            raise InvalidEvent("doc.tenant_id and doc.id must match the event")
    return Event(
        op=op, tenant_id=tenant, id=doc_id, version=version, doc=doc if op == "index" else None
    )


def bulk_lines(index: str, events: list[Event]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for event in events:
        meta = {
            "_index": index,
            "_id": event.id,
            "routing": event.tenant_id,
            "version": event.version,
            "version_type": "external",
        }
        if event.op == "index":
            lines.append({"index": meta})
            lines.append(event.doc or {})
        else:
            lines.append({"delete": meta})
    return lines


# A 409 of external versioning: this version, or a newer one, is indexed already (a
# redelivery, or an older event overtaken).
SUPERSEDED = "superseded by a newer version"


def classify_item(item: dict[str, Any]) -> tuple[Outcome, str]:
    """One entry of a bulk response's ``items``."""
    ((op, result),) = item.items()
    status = int(result.get("status", 500))
    error = result.get("error")
    reason = ""
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"[:500]
    elif error:
        reason = str(error)[:500]
    if 200 <= status < 300:
        return Outcome.DONE, ""
    if status == 409:
        return Outcome.DONE, SUPERSEDED
    if status == 404 and op == "delete":
        return Outcome.DONE, "already absent"
    if status == 400:
        return Outcome.DEAD, reason or "rejected by OpenSearch (400)"
    return Outcome.RETRY, reason or f"status {status}"
