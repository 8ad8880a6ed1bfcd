"""Chaos Toolkit completes an experiment whose method action raised (a fault on a proxy
that does not exist, say): gameday must not read that as a pass."""

from __future__ import annotations

from typing import Any

from gameday.chaos.experiment_sidecar import failed_actions


def _record(kind: str, name: str, status: str, exception: list[str] | None = None) -> Any:
    return {
        "activity": {"type": kind, "name": name},
        "status": status,
        **({"exception": exception} if exception else {}),
    }


def test_a_failed_action_is_named_with_its_exception_s_last_line() -> None:
    journal = {
        "status": "completed",
        "run": [
            _record(
                "action", "add-latency", "failed", ["Traceback ...\n", "HTTP 404: no proxy db\n"]
            ),
            _record("action", "remove-latency", "succeeded"),
        ],
    }
    assert failed_actions(journal) == "'add-latency' failed (HTTP 404: no proxy db)"


def test_succeeded_actions_and_failed_probes_are_not_failed_actions() -> None:
    journal = {
        "run": [
            _record("action", "add-latency", "succeeded"),
            _record("probe", "p95-below", "failed", ["tolerance not met"]),
        ]
    }
    assert failed_actions(journal) is None
    assert failed_actions({}) is None
