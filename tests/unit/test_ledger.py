"""gameday.ledger, the public call a Locust file makes for each acknowledged write: a
no-op outside a gameday run, handed to the run's recorder inside one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import gameday.ledger


class _Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def acknowledged(self, **fields: Any) -> None:
        self.calls.append(("acknowledged", fields))

    def sent(self, **fields: Any) -> None:
        self.calls.append(("sent", fields))

    def answered(self, request_id: str) -> None:
        self.calls.append(("answered", {"request_id": request_id}))


@pytest.fixture
def sink() -> Iterator[_Sink]:
    recording = _Sink()
    gameday.ledger._install(recording)
    try:
        yield recording
    finally:
        gameday.ledger._install(None)


def test_outside_a_run_every_call_is_a_no_op() -> None:
    gameday.ledger.acknowledged(id="a1")
    gameday.ledger.sent(id="a1", op="delete", request_id="r1")
    gameday.ledger.answered("r1")


def test_an_acknowledged_write_reaches_the_run_with_its_defaults(sink: _Sink) -> None:
    gameday.ledger.acknowledged(id=17)
    gameday.ledger.acknowledged(id="b", version=3, tenant="acme", op="update", request_id="r")
    first = {"id": "17", "version": 1, "tenant": "", "op": "create", "request_id": ""}
    second = {"id": "b", "version": 3, "tenant": "acme", "op": "update", "request_id": "r"}
    assert sink.calls == [("acknowledged", first), ("acknowledged", second)]


def test_a_write_is_unconfirmed_from_send_to_answer(sink: _Sink) -> None:
    gameday.ledger.sent(id="d", op="delete", tenant="acme", request_id="r9")
    gameday.ledger.answered("r9")
    assert [name for name, _ in sink.calls] == ["sent", "answered"]
    assert sink.calls[0][1] == {"id": "d", "op": "delete", "tenant": "acme", "request_id": "r9"}


def test_the_ledger_api_does_not_import_locust() -> None:
    """It is imported by Locust files and by tools alike: Locust patches the stdlib."""
    code = (
        "import sys, gameday.ledger; sys.exit('locust' in sys.modules or 'gevent' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
