"""The write ledger, from a Locust file: what the target acknowledged, so that the
reconciliation after a chaos run can tell whether any of it was lost (RPO).

    import gameday.ledger

    with self.client.post("/records", json=body, catch_response=True) as response:
        if response.status_code == 201:
            gameday.ledger.acknowledged(id=response.json()["id"], tenant="acme")

An update or delete whose answer may never come (the load stops mid-request) is
tracked from send to answer: what is still unanswered when the load ends goes to
`unconfirmed.jsonl`, and the reconciliation leaves those documents unjudged.

    request_id = uuid.uuid4().hex
    gameday.ledger.sent(id=doc_id, op="delete", request_id=request_id)
    response = self.client.delete(f"/records/{doc_id}", headers={"X-Request-ID": request_id})
    gameday.ledger.answered(request_id)   # not reached when the user is stopped mid-request

Light on purpose (no Locust import): outside a gameday run (a plain `locust` run, a
unit test) every call is a no-op. Inside one, the Locust plugin installs where the
records go (`_install`), in each Locust process.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["acknowledged", "answered", "sent"]


class _Sink(Protocol):
    def acknowledged(
        self, *, id: str, version: int, tenant: str, op: str, request_id: str
    ) -> None: ...

    def sent(self, *, id: str, op: str, tenant: str, request_id: str) -> None: ...

    def answered(self, request_id: str) -> None: ...


_sink: _Sink | None = None


def acknowledged(
    *, id: str | int, version: int = 1, tenant: str = "", op: str = "create", request_id: str = ""
) -> None:
    """Record one write the target acknowledged (`op`: create, update, delete, bulk_create;
    `version`: the version it answered, which the reconciliation expects to find)."""
    if _sink is not None:
        _sink.acknowledged(
            id=str(id), version=int(version), tenant=tenant, op=op, request_id=request_id
        )


def sent(*, id: str | int, op: str, tenant: str = "", request_id: str) -> None:
    """An update or delete was sent; until `answered(request_id)` its outcome is unknown."""
    if _sink is not None:
        _sink.sent(id=str(id), op=op, tenant=tenant, request_id=request_id)


def answered(request_id: str) -> None:
    """The write sent with `request_id` got an answer (any answer: then it is judged by
    what the ledger says, acknowledged or not)."""
    if _sink is not None:
        _sink.answered(request_id)


def _install(sink: _Sink | None) -> None:
    """The plugin's: where this process's records go (None: nowhere)."""
    global _sink
    _sink = sink
