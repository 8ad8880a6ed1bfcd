"""Traces of a real service and indexer (console exporter into one JSON line per span):
a write's server span has PostgreSQL children, and its trace goes on through the outbox
relay and RabbitMQ to the indexer. No personal data in any span."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from private_namespace import Namespace, namespace, start_indexer
from service_helpers import eventually, make_document

from service.settings import AuthSettings
from service.tenants.auth import issue_token
from tests.integration.own_service import running_service

__all__ = ["namespace"]  # the fixture, imported for the tests below
EMAIL = "ann.example@example.com"
SUBJECT = "subject-7c1e5"


def _spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _descends_from(span: dict[str, Any], ancestor_id: str, by_id: dict[str, Any]) -> bool:
    parent = span.get("parent_id")
    while parent:
        if parent == ancestor_id:
            return True
        parent = by_id.get(parent, {}).get("parent_id")
    return False


def test_a_write_is_traced_from_the_request_through_the_outbox_to_the_indexer(
    namespace: Namespace,
) -> None:
    ns = namespace
    service_spans, indexer_spans = ns.logs / "service-spans.jsonl", ns.logs / "indexer-spans.jsonl"
    env = {**ns.env, "SERVICE_TRACING_EXPORTER": "console"}
    indexer_env = {**env, "SERVICE_TRACING_CONSOLE_FILE": str(indexer_spans)}
    service_env = {**env, "SERVICE_TRACING_CONSOLE_FILE": str(service_spans)}
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    token = issue_token(AuthSettings(), tenant=tenant, role="user", ttl_s=600)
    indexer = start_indexer(ns, indexer_env, ns.logs / "indexer.log")  # starts meanwhile
    with running_service(ns.stack, ns.logs, service_env) as service:
        try:
            with httpx.Client(
                base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
            ) as client:
                response = client.post(
                    "/v1/documents", json=make_document(subject_id=SUBJECT, tags=["traced"])
                )
                assert response.status_code == 202, response.text
                search = client.get("/v1/search", params={"q": EMAIL})
                # A cold first search may pass its deadline (503): traced all the same.
                assert search.status_code in (200, 503), search.text

            def write_span() -> dict[str, Any] | None:
                for span in _spans(service_spans):
                    if span["name"] == "POST /v1/documents" and span["kind"] == "SpanKind.SERVER":
                        return span
                return None

            server = eventually(write_span)
            trace_id = server["context"]["trace_id"]

            def consumed() -> list[dict[str, Any]]:
                return [
                    s
                    for s in _spans(indexer_spans)
                    if s["kind"] == "SpanKind.CONSUMER" and s["context"]["trace_id"] == trace_id
                ]

            consume = eventually(consumed, timeout_s=30)
        finally:
            indexer.terminate()
            assert indexer.wait(timeout=20) == 0  # SIGTERM: a clean stop
    spans = _spans(service_spans)
    by_id = {s["context"]["span_id"]: s for s in spans}
    server_id = server["context"]["span_id"]
    postgres = [
        s
        for s in spans
        if s["attributes"].get("db.system") == "postgresql" and _descends_from(s, server_id, by_id)
    ]
    assert postgres, "no PostgreSQL span under the write's server span"
    statements = [s["attributes"].get("db.statement", "") for s in postgres]
    assert any(st.startswith("INSERT INTO outbox") for st in statements), statements
    assert all("$1" in st for st in statements if st.startswith("INSERT")), statements
    # The relay's publish joins the write's trace (from the traceparent stored in the row).
    publish = [
        s
        for s in spans
        if s["kind"] == "SpanKind.PRODUCER" and s["context"]["trace_id"] == trace_id
    ]
    assert publish, "the relay's publish is not in the write's trace"
    assert any(s["parent_id"] == publish[0]["context"]["span_id"] for s in consume)
    # The indexer's batch links the write's trace; its OpenSearch bulk is a child.
    indexer_all = _spans(indexer_spans)
    batches = [
        s
        for s in indexer_all
        if s["name"] == "index batch"
        and any(link["context"]["trace_id"] == trace_id for link in s["links"])
    ]
    assert batches
    assert any(
        s["name"] == "opensearch POST" and s["parent_id"] == batches[0]["context"]["span_id"]
        for s in indexer_all
    )
    # Personal data: neither the searched e-mail nor the subject id is in any span.
    everything = service_spans.read_text() + indexer_spans.read_text()
    assert "/v1/search" in everything  # the search was traced...
    assert EMAIL not in everything and "example.com" not in everything  # ...without its text
    assert SUBJECT not in everything
