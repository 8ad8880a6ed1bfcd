from __future__ import annotations

from typing import Any

import orjson
import pytest

from service.indexer.bulk import (
    InvalidEvent,
    Outcome,
    bulk_lines,
    classify_item,
    parse_event,
    parse_message,
)
from service.resilience import backoff_s, indexer_backoff


def make_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "op": "index",
        "tenant_id": "acme",
        "id": "d1",
        "version": 3,
        "doc": {"id": "d1", "tenant_id": "acme", "title": "t"},
    }
    event.update(overrides)
    return event


def test_a_message_holds_one_event_or_an_envelope_of_many() -> None:
    assert parse_message(orjson.dumps(make_event())) == [make_event()]
    envelope = {"events": [make_event(), make_event(id="d2")]}
    assert len(parse_message(orjson.dumps(envelope))) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"{nope", "not JSON"), (b"[1]", "JSON object"), (b'{"events": []}', "non-empty")],
    ids=["garbage", "array", "empty-envelope"],
)
def test_unreadable_messages_are_invalid(body: bytes, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse_message(body)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"op": "upsert"}, "unknown op 'upsert'"),
        ({"version": 0}, "positive integer"),
        ({"version": True}, "positive integer"),
        ({"tenant_id": ""}, "non-empty"),
        ({"doc": None}, "needs a doc"),
        ({"doc": {"id": "d1", "tenant_id": "other"}}, "must match"),
    ],
    ids=["op", "version-zero", "version-bool", "tenant", "no-doc", "doc-tenant-mismatch"],
)
def test_invalid_events_name_what_is_wrong(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse_event(make_event(**overrides))


def test_bulk_lines_use_external_versions_and_tenant_routing() -> None:
    events = [parse_event(make_event()), parse_event(make_event(op="delete", version=4, doc=None))]
    lines = bulk_lines("documents", events)
    assert lines[0] == {
        "index": {
            "_index": "documents",
            "_id": "d1",
            "routing": "acme",
            "version": 3,
            "version_type": "external",
        }
    }
    assert lines[1]["title"] == "t"
    assert lines[2]["delete"]["version"] == 4 and len(lines) == 3


@pytest.mark.parametrize(
    ("item", "outcome"),
    [
        ({"index": {"status": 201}}, Outcome.DONE),
        (
            {"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
            Outcome.DONE,
        ),
        ({"delete": {"status": 404}}, Outcome.DONE),
        ({"index": {"status": 400, "error": {"type": "mapper_parsing_exception"}}}, Outcome.DEAD),
        (
            {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
            Outcome.RETRY,
        ),
        ({"index": {"status": 403, "error": {"type": "cluster_block_exception"}}}, Outcome.RETRY),
        ({"index": {"status": 503}}, Outcome.RETRY),
    ],
    ids=[
        "created",
        "older-version",
        "delete-absent",
        "mapping",
        "throttled",
        "blocked",
        "unavailable",
    ],
)
def test_bulk_items_are_classified(item: dict[str, Any], outcome: Outcome) -> None:
    assert classify_item(item)[0] is outcome


def test_indexer_backoff_grows_and_is_capped() -> None:
    wait = indexer_backoff(initial_s=0.1, max_s=1.0)
    first, third, tenth = (backoff_s(wait, attempt=n) for n in (1, 3, 10))
    assert 0.1 <= first <= 0.15
    assert 0.4 <= third <= 0.45
    assert tenth <= 1.0 + 0.05
