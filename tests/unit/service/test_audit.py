"""The audit helpers that need no database: what is kept of subjects and paths, and how
best-effort rows are bounded and throttled."""

from __future__ import annotations

from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

from service import audit


class FakeRuntime:
    """Only what ``audit.record`` touches: the background task set and ``spawn``
    (typed ``Any`` where it is passed, as it stands in for a ``Runtime``)."""

    def __init__(self, pending: int = 0) -> None:
        self.background: set[object] = {object() for _ in range(pending)}
        self.spawned: list[dict[str, Any]] = []

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.spawned.append(coro.cr_frame.f_locals["detail"])  # the row it would insert
        coro.close()


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    audit._last_written.clear()
    audit._suppressed.clear()
    yield
    audit._last_written.clear()
    audit._suppressed.clear()


def test_subjects_are_kept_only_as_a_digest() -> None:
    digest = audit.subject_digest("jane@example.com")
    assert len(digest) == 64 and "jane" not in digest
    assert digest == audit.subject_digest("jane@example.com")


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("/v1/tenants/acme/subjects/jane@example.com", "/v1/tenants/acme/subjects/***"),
        ("/v1/tenants/acme/subjects/u-123/extra", "/v1/tenants/acme/subjects/***/extra"),
        ("/v1/search", "/v1/search"),
    ],
    ids=["email-subject", "subject-segment", "no-subject"],
)
def test_paths_lose_their_subject_segment(path: str, kept: str) -> None:
    assert audit.safe_path(path) == kept


def test_best_effort_rows_are_dropped_beyond_the_pending_bound() -> None:
    assert audit.record(None, action="auth_failed", outcome="rejected") is False
    busy: Any = FakeRuntime(pending=audit.MAX_PENDING)
    assert audit.record(busy, action="auth_failed", outcome="rejected") is False
    assert busy.spawned == []
    idle: Any = FakeRuntime()
    assert audit.record(idle, action="auth_failed", outcome="rejected") is True
    assert len(idle.spawned) == 1


def test_a_throttled_flood_writes_one_row_then_counts_the_rest() -> None:
    runtime: Any = FakeRuntime()
    kwargs: dict[str, Any] = {
        "action": "rate_limited",
        "outcome": "rejected",
        "tenant": "noisy",
        "actor": "cli:noisy",
        "detail": {"limit": "tenant"},
    }
    results = [audit.record(runtime, at_most_every_s=3600, **kwargs) for _ in range(5)]
    assert results == [True, False, False, False, False]
    assert runtime.spawned == [{"limit": "tenant"}]
    assert audit.record(
        runtime,
        at_most_every_s=3600,
        tenant="quiet",
        **{k: v for k, v in kwargs.items() if k != "tenant"},
    )
    audit._last_written.clear()  # the interval has passed
    assert audit.record(runtime, at_most_every_s=3600, **kwargs)
    assert runtime.spawned[-1] == {"limit": "tenant", "suppressed": 4}
