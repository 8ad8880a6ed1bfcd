"""The fault window of an experiment whose method recorded no fault on the timeline:
one that uses chaostoolkit-toxiproxy or the user's own providers. It is inferred from
the journal: from the end of the method's first action to the end of its last one,
or, when the method failed (or had a single action), to the end of its first rollback.

    window = infer_window(journal, ("gameday.chaos.faults", "gameday.chaos.processes"))
    window.start_epoch, window.end_epoch, window.until    # "last action" / "first rollback"

None when the method injected a fault through gameday's own providers (their events
are the window) or ran no action. The report judges the window like a recorded one and
says it was inferred.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from gameday.rundir import InferredWindow

__all__ = ["infer_window"]


def _epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _is_action(record: dict[str, Any]) -> bool:
    return (record.get("activity") or {}).get("type") == "action"


def _module(record: dict[str, Any]) -> str | None:
    provider = (record.get("activity") or {}).get("provider") or {}
    module = provider.get("module")
    return module if isinstance(module, str) else None


def infer_window(journal: dict[str, Any], own_modules: Collection[str]) -> InferredWindow | None:
    runs = [r for r in journal.get("run") or [] if isinstance(r, dict)]
    if any(_module(r) in own_modules for r in runs):
        return None
    actions = [r for r in runs if _is_action(r)]
    start = _epoch(actions[0].get("end")) if actions else None
    if start is None:
        return None
    failed = journal.get("status") not in (None, "completed") or any(
        r.get("status") == "failed" for r in actions
    )
    rollbacks = [r for r in journal.get("rollbacks") or [] if isinstance(r, dict)]
    if failed and rollbacks:
        return InferredWindow(
            start_epoch=round(start, 3),
            end_epoch=_rounded(_epoch(rollbacks[0].get("end"))),
            until="first rollback",
        )
    if len(actions) == 1 and rollbacks:  # the one action's fault lasts until the rollback
        return InferredWindow(
            start_epoch=round(start, 3),
            end_epoch=_rounded(_epoch(rollbacks[0].get("end"))),
            until="first rollback",
        )
    end = _epoch(actions[-1].get("end")) if len(actions) > 1 else None
    return InferredWindow(start_epoch=round(start, 3), end_epoch=_rounded(end), until="last action")


def _rounded(epoch: float | None) -> float | None:
    return None if epoch is None else round(epoch, 3)
