"""A write in flight when the load stops: the service may have applied it, but the
stopped user never read the answer, so the ledger cannot say. Seen in CI: a delete the
service answered 202 five milliseconds before the load stopped was missing from the
ledger, and the document it deleted was reported as a lost write."""

from __future__ import annotations

from gameday.chaos.reconcile import judged_expectations
from gameday.load.capture_model import Recorder, Store
from gameday.rundir import LedgerEntry, UnconfirmedWrite


def _acked(op: str, doc: str, version: int, t_s: float) -> LedgerEntry:
    return LedgerEntry(
        op=op, id=doc, tenant="t1", version=version, acked_at="2026-11-30T15:40:04Z", t_s=t_s
    )


def _in_flight(op: str, doc: str, t_s: float) -> dict[str, object]:
    return {
        "op": op,
        "id": doc,
        "tenant": "t1",
        "sent_at": "2026-11-30T15:42:02Z",
        "t_s": t_s,
        "request_id": f"r-{doc}",
    }


def test_a_document_with_a_delete_in_flight_at_the_end_is_not_judged() -> None:
    ledger = [_acked("create", "a", 1, 38.1), _acked("create", "b", 1, 39.0)]
    unconfirmed = [UnconfirmedWrite.model_validate(_in_flight("delete", "a", 156.8))]
    final, unjudged = judged_expectations(ledger, unconfirmed)
    assert set(final) == {"b"} and unjudged == {"a"}


def test_without_writes_in_flight_every_document_is_judged() -> None:
    ledger = [_acked("create", "a", 1, 1.0), _acked("delete", "a", 2, 2.0)]
    final, unjudged = judged_expectations(ledger, [])
    assert set(final) == {"a"} and not final["a"].present and unjudged == set()


def test_an_unanswered_write_survives_every_report_until_its_answer_removes_it() -> None:
    recorder, store = Recorder(), Store()
    recorder.unconfirmed["r-a"] = _in_flight("delete", "a", 156.8)
    store.merge(recorder.take_delta())
    store.merge(recorder.take_delta())  # a snapshot, not a one-off delta
    assert [w["id"] for w in store.unconfirmed] == ["a"]
    recorder.unconfirmed.pop("r-a")  # the answer came
    store.merge(recorder.take_delta())
    assert store.unconfirmed == []


def test_each_load_process_reports_its_own_unanswered_writes() -> None:
    store = Store()
    one, two = Recorder(), Recorder()
    one.unconfirmed["r-a"] = _in_flight("delete", "a", 1.0)
    two.unconfirmed["r-b"] = _in_flight("update", "b", 1.0)
    store.merge(one.take_delta(), worker="w1")
    store.merge(two.take_delta(), worker="w2")
    assert sorted(w["id"] for w in store.unconfirmed) == ["a", "b"]
