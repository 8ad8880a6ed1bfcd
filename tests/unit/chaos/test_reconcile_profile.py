"""The reconciliation through a target profile's ledger: against a small real HTTP
server (a records store in a thread), never a mock of the client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gameday.chaos.reconcile_profile import ReconciliationFailed, reconcile_with_profile
from gameday.rundir import LedgerEntry, Reconciliation, RunDir, UnconfirmedWrite
from gameday.target import TargetProfile

AUTH = {"Authorization": "Basic dXNlcjpwdw=="}


@dataclass
class Records:
    """What the server holds: ids present, and answers to give before the real one."""

    present: set[str] = field(default_factory=set)
    # id -> statuses answered (in order) before the store's own answer
    answers_first: dict[str, list[int]] = field(default_factory=dict)
    gets: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(records: Records) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            record_id = self.path.rsplit("/", 1)[-1]
            with records.lock:
                records.gets.append(record_id)
                queued = records.answers_first.get(record_id)
                status = queued.pop(0) if queued else None
            if self.headers.get("Authorization") != AUTH["Authorization"]:
                status = 401
            elif status is None:
                status = 200 if record_id in records.present else 404
            body = b'{"data": {}}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests

    return Handler


@pytest.fixture
def records() -> Records:
    return Records()


@pytest.fixture
def server_url(records: Records) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(records))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def make_profile(ledger: dict[str, str], folder: Path | None = None) -> TargetProfile:
    profile = TargetProfile.model_validate(
        {
            "name": "records",
            "base_url": "http://127.0.0.1:9",
            "traffic": {"locustfile": "locustfile.py"},
            "ledger": ledger,
        }
    )
    return profile.with_folder(folder) if folder is not None else profile


def acked(record_id: str, t_s: float, op: str = "create") -> LedgerEntry:
    return LedgerEntry(
        op=op, id=record_id, tenant="b", version=1, acked_at="2026-11-30T17:00:00Z", t_s=t_s
    )


def make_run(tmp_path: Path, entries: list[LedgerEntry]) -> Path:
    RunDir(tmp_path).write_ledger(entries)
    return tmp_path


def reconcile_over_http(
    run_dir: Path, url: str, *, grace_s: float = 0.0, headers: dict[str, str] = AUTH
) -> Reconciliation:
    profile = make_profile({"http_get": f"{url}/records/{{id}}"})
    return reconcile_with_profile(run_dir, profile, grace_s=grace_s, headers=headers)


def test_every_acknowledged_record_readable_means_nothing_lost(
    tmp_path: Path, records: Records, server_url: str
) -> None:
    records.present |= {"a", "b", "c"}
    run_dir = make_run(tmp_path, [acked("a", 1.0), acked("b", 2.0), acked("c", 3.0)])
    result = reconcile_over_http(run_dir, server_url)
    assert (result.acknowledged, result.documents, result.present) == (3, 3, 3)
    assert (result.lost, result.lost_ids, result.rpo_s) == (0, [], 0.0)
    assert sorted(records.gets) == ["a", "b", "c"]


def test_the_reconciliation_is_written_to_the_run_directory_as_returned(
    tmp_path: Path, records: Records, server_url: str
) -> None:
    records.present |= {"a"}
    run_dir = make_run(tmp_path, [acked("a", 1.0), acked("b", 4.5)])
    result = reconcile_over_http(run_dir, server_url)
    assert RunDir(run_dir).load_reconciliation() == result


def test_a_record_the_server_no_longer_has_is_the_one_lost(
    tmp_path: Path, records: Records, server_url: str
) -> None:
    records.present |= {"a", "c"}
    run_dir = make_run(tmp_path, [acked("a", 1.0), acked("b", 2.0), acked("c", 3.0)])
    result = reconcile_over_http(run_dir, server_url)
    assert (result.lost, result.lost_ids, result.present) == (1, ["b"], 2)
    assert result.rpo_s == 0.0  # one lost write: no span


def test_the_rpo_is_the_span_of_the_lost_writes_acknowledgements(
    tmp_path: Path, records: Records, server_url: str
) -> None:
    records.present |= {"b"}
    run_dir = make_run(tmp_path, [acked("c", 10.25), acked("a", 1.0), acked("b", 5.0)])
    result = reconcile_over_http(run_dir, server_url)
    assert result.lost_ids == ["a", "c"]  # in the order acknowledged
    assert result.rpo_s == 9.25


@pytest.mark.parametrize(
    ("still_there", "lost"),
    [(False, []), (True, ["a"])],
    ids=["deleted-record-404-is-right", "deleted-record-still-readable-is-lost"],
)
def test_an_acknowledged_delete_expects_404(
    tmp_path: Path, records: Records, server_url: str, still_there: bool, lost: list[str]
) -> None:
    if still_there:
        records.present.add("a")
    run_dir = make_run(tmp_path, [acked("a", 1.0), acked("a", 2.0, op="delete")])
    result = reconcile_over_http(run_dir, server_url)
    assert (result.documents, result.present, result.lost_ids) == (1, 0, lost)


def test_a_record_with_a_write_in_flight_at_the_end_is_not_judged(
    tmp_path: Path, records: Records, server_url: str
) -> None:
    run_dir = make_run(tmp_path, [acked("a", 1.0), acked("b", 2.0)])
    records.present.add("b")  # "a" was deleted by a delete nobody saw answered
    RunDir(run_dir).write_unconfirmed(
        [UnconfirmedWrite(op="delete", id="a", tenant="b", sent_at="2026-11-30T17:00:03Z", t_s=3)]
    )
    result = reconcile_over_http(run_dir, server_url)
    assert (result.unconfirmed_at_end, result.documents, result.lost) == (1, 1, 0)
    assert "a" not in records.gets


def test_a_record_visible_only_after_a_while_is_given_the_grace(
    tmp_path: Path, records: Records, server_url: str
) -> None:
    records.present |= {"a", "b"}
    records.answers_first["b"] = [404, 404]  # visible at the third look
    run_dir = make_run(tmp_path, [acked("a", 1.0), acked("b", 2.0)])
    result = reconcile_over_http(run_dir, server_url, grace_s=10)
    assert (result.lost, result.not_yet_indexed) == (0, 1)
    assert records.gets.count("b") == 3 and records.gets.count("a") == 1
    assert result.max_indexing_lag_s is not None and result.max_indexing_lag_s > 0


def test_a_record_missing_after_the_grace_is_lost_and_was_looked_for_again(
    tmp_path: Path, records: Records, server_url: str
) -> None:
    run_dir = make_run(tmp_path, [acked("a", 1.0)])
    result = reconcile_over_http(run_dir, server_url, grace_s=1.5)
    assert result.lost_ids == ["a"]
    assert records.gets.count("a") >= 2


def test_an_id_the_server_never_answers_about_is_an_error_not_a_verdict(
    tmp_path: Path, records: Records, server_url: str
) -> None:
    records.present.add("a")
    records.answers_first["b"] = [503] * 100
    run_dir = make_run(tmp_path, [acked("a", 1.0), acked("b", 2.0)])
    with pytest.raises(ReconciliationFailed) as caught:
        reconcile_over_http(run_dir, server_url, grace_s=0.5)
    message = str(caught.value)
    assert "1 of 2 acknowledged ids" in message and "b: HTTP 503" in message
    assert "\n" not in message
    assert RunDir(run_dir).load_reconciliation() is None


def test_the_profiles_auth_headers_are_sent_with_every_get(
    tmp_path: Path, records: Records, server_url: str
) -> None:
    records.present.add("a")
    run_dir = make_run(tmp_path, [acked("a", 1.0)])
    with pytest.raises(ReconciliationFailed, match="a: HTTP 401"):
        reconcile_over_http(run_dir, server_url, headers={})
    assert reconcile_over_http(run_dir, server_url).present == 1


def test_an_id_is_quoted_into_the_url(tmp_path: Path, records: Records, server_url: str) -> None:
    records.present.add("x%2Fy")  # the server sees the id quoted, so one path segment
    run_dir = make_run(tmp_path, [acked("x/y", 1.0)])
    assert reconcile_over_http(run_dir, server_url).lost == 0


def test_an_empty_ledger_reconciles_to_nothing_lost(tmp_path: Path, server_url: str) -> None:
    result = reconcile_over_http(tmp_path, server_url)
    assert (result.acknowledged, result.documents, result.lost) == (0, 0, 0)


def test_a_profile_without_a_ledger_is_refused_in_one_line(tmp_path: Path) -> None:
    profile = TargetProfile.model_validate(
        {"name": "x", "base_url": "http://127.0.0.1:9", "traffic": {"locustfile": "l.py"}}
    )
    with pytest.raises(ReconciliationFailed, match="has no ledger: add `ledger:"):
        reconcile_with_profile(tmp_path, profile, grace_s=0, headers={})


ENTRY_MODULE = """
def missing_ids(entries, context):
    seen.append((entries, context))
    return [e.id for e in entries if e.id.startswith("gone")]

def wrong_ids(entries, context):
    return ["never-written"]

def broken(entries, context):
    raise RuntimeError("store unreachable\\nsecond line")

seen = []
"""


@pytest.fixture
def entry_folder(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    # A module name per test: sys.modules keeps what one test imported.
    folder = tmp_path / "target"
    folder.mkdir()
    name = f"ledger_check_{request.node.name.replace('-', '_')[:40]}"
    (folder / f"{name}.py").write_text(ENTRY_MODULE)
    (folder / "module_name").write_text(name)
    return folder


def _entry_profile(folder: Path, function: str) -> TargetProfile:
    module = (folder / "module_name").read_text()
    return make_profile({"entry_point": f"{module}:{function}"}, folder=folder)


def test_an_entry_point_gets_the_last_operation_per_id_and_names_the_lost(
    tmp_path: Path, entry_folder: Path
) -> None:
    import importlib

    run_dir = make_run(
        tmp_path,
        [acked("kept", 1.0), acked("gone-1", 2.0), acked("gone-1", 2.5, op="update")],
    )
    profile = _entry_profile(entry_folder, "missing_ids")
    result = reconcile_with_profile(run_dir, profile, grace_s=0, headers={})
    assert (result.lost_ids, result.present, result.rpo_s) == (["gone-1"], 1, 0.0)
    module = importlib.import_module((entry_folder / "module_name").read_text())
    entries, context = module.seen[0]
    assert [(e.id, e.op) for e in entries] == [("kept", "create"), ("gone-1", "update")]
    assert context.run_dir == run_dir and context.base_url == "http://127.0.0.1:9"


def test_an_entry_point_naming_an_id_the_ledger_never_had_is_an_error(
    tmp_path: Path, entry_folder: Path
) -> None:
    run_dir = make_run(tmp_path, [acked("a", 1.0)])
    with pytest.raises(ReconciliationFailed, match="ids the ledger did not judge"):
        reconcile_with_profile(
            run_dir, _entry_profile(entry_folder, "wrong_ids"), grace_s=0, headers={}
        )


def test_an_entry_point_that_raises_is_one_line_naming_it(
    tmp_path: Path, entry_folder: Path
) -> None:
    run_dir = make_run(tmp_path, [acked("a", 1.0)])
    with pytest.raises(ReconciliationFailed) as caught:
        reconcile_with_profile(
            run_dir, _entry_profile(entry_folder, "broken"), grace_s=0, headers={}
        )
    assert str(caught.value).endswith("failed: store unreachable")
    assert "ledger.entry_point" in str(caught.value)
