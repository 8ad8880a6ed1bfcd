"""RPO for any target: the write ledger reconciled through the target profile's
`ledger`, into the same `reconciliation.json` as the reference reconciliation
(gameday/chaos/reconcile.py, docs/run-data.md).

    reconcile_with_profile(run_dir, profile, grace_s=30, headers={"Authorization": "Basic ..."})

For each id the ledger's last acknowledged operation says what must be true now:
present (create, update, bulk_create) or absent (delete). Ids with an update or
delete still unanswered when the load stopped are left unjudged
(`unconfirmed_at_end`). Then, by the profile:

- `http_get: URL with {id}`: one GET per id, with `headers` (the profile's auth).
  2xx is present, 404 absent. A wrong answer (404 for a present one, 2xx for a
  deleted one) or no answer (another status, a connection error) is asked again
  every second until `grace_s` has passed: a target that makes writes visible late
  (a replica, a search index) is given the grace. A write still wrongly answered
  then is lost; an id the target still does not answer about is an error
  (`ReconciliationFailed`): nothing can be said about it, and a missing
  reconciliation makes the verdict ERROR, never a pass.
- `entry_point: module:function`: called once as `function(entries, context)` with
  the judged ids' last acknowledged operations (a list of `LedgerEntry`) and a
  `HookContext` (base_url, run_dir, params {"grace_s": the --rpo-grace}); it returns
  the ids it finds missing (an iterable of str). An id the ledger did not judge is an
  error in the function. A reconciler that can tell more (which store lost a write,
  stale versions: the reference's, gameday.chaos.reconcile:reconcile_reference) may
  return a whole `Reconciliation` instead, written as it is.

The RPO is the span of acknowledgement times of the lost writes (0 when none).
As in the reference, `not_yet_indexed` counts the ids wrong at the first look and
`max_indexing_lag_s` is the time until the last look that found one wrong; the store-specific
counts of the reference (`lost_in_postgres`, `lost_in_search`, `stale_versions`)
stay 0: a GET cannot see versions.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx

from gameday.chaos.reconcile import Expectation, judged_expectations
from gameday.errors import GamedayError
from gameday.rundir import LedgerEntry, Reconciliation, RunDir, iso
from gameday.target.profile import TargetProfile

__all__ = ["ReconciliationFailed", "reconcile_with_profile"]

GET_TIMEOUT_S = 10.0
_PARALLEL_GETS = 8
_RECHECK_EVERY_S = 1.0


class ReconciliationFailed(GamedayError):
    """The target's ledger could not be judged (no ledger in the profile, ids the target
    never answered about, an entry point that failed)."""

    def __init__(self, message: str, *, profile: str) -> None:
        super().__init__(message)
        self.profile = profile


def reconcile_with_profile(
    run_dir: Path, profile: TargetProfile, *, grace_s: float, headers: dict[str, str]
) -> Reconciliation:
    """Reconciles the run's ledger through the profile's `ledger` and writes
    reconciliation.json; see the module docstring."""
    if profile.ledger is None:
        raise ReconciliationFailed(
            f"target profile {profile.name} has no ledger: add `ledger: {{http_get: URL with "
            "{id}}` or `ledger: {entry_point: module:function}` to reconcile its writes",
            profile=profile.name,
        )
    directory = RunDir(run_dir)
    ledger = directory.load_ledger()
    final, unjudged = judged_expectations(ledger, directory.load_unconfirmed())
    first_wrong: set[str] = set()
    lag_s = 0.0
    if profile.ledger.http_get is not None:
        lost, first_wrong, lag_s = _lost_by_http_get(
            profile, profile.ledger.http_get, final, grace_s=grace_s, headers=headers
        )
    else:
        found = _lost_by_entry_point(
            profile, run_dir, final, _last_entries(ledger, final), grace_s=grace_s
        )
        if isinstance(found, Reconciliation):  # a reconciler that tells more than ids
            directory.write_reconciliation(found)
            return found
        lost = found
    ordered = sorted(lost, key=lambda i: final[i].t_s)
    times = [final[i].t_s for i in ordered]
    result = Reconciliation(
        checked_at=iso(time.time()),
        acknowledged=len(ledger),
        documents=len(final),
        present=sum(1 for i, e in final.items() if e.present and i not in lost),
        lost=len(ordered),
        lost_ids=ordered,
        rpo_s=round(max(times) - min(times), 3) if times else 0.0,
        unconfirmed_at_end=len(unjudged),
        not_yet_indexed=len(first_wrong),
        max_indexing_lag_s=round(lag_s, 3),
    )
    directory.write_reconciliation(result)
    return result


def _lost_by_http_get(
    profile: TargetProfile,
    template: str,
    final: dict[str, Expectation],
    *,
    grace_s: float,
    headers: dict[str, str],
) -> tuple[set[str], set[str], float]:
    """(lost ids, ids wrong at the first look, seconds until the last look that found one
    wrong): the reference's indexing lag, measured the same way."""
    started = time.monotonic()
    pending = dict(final)
    first_wrong: set[str] | None = None
    lag_s = 0.0
    answers: dict[str, str] = {}
    with (
        httpx.Client(headers=headers, timeout=GET_TIMEOUT_S) as client,
        ThreadPoolExecutor(max_workers=_PARALLEL_GETS) as pool,
    ):

        def look(record_id: str) -> tuple[str, bool | None, str]:
            url = template.replace("{id}", quote(record_id, safe=""))
            try:
                status = client.get(url).status_code
            except httpx.HTTPError as exc:
                return record_id, None, type(exc).__name__
            if 200 <= status < 300:
                return record_id, True, str(status)
            if status == 404:
                return record_id, False, "404"
            return record_id, None, f"HTTP {status}"

        while True:
            wrong: set[str] = set()
            for record_id, found, answer in pool.map(look, list(pending)):
                answers[record_id] = answer
                if found is None or found != pending[record_id].present:
                    wrong.add(record_id)
            if first_wrong is None:
                first_wrong = set(wrong)
            pending = {i: pending[i] for i in wrong}
            if not pending or time.monotonic() - started >= grace_s:
                break
            lag_s = time.monotonic() - started
            time.sleep(_RECHECK_EVERY_S)
    unanswered = sorted(i for i in pending if not (answers[i] == "404" or _is_2xx(answers[i])))
    if unanswered:
        raise ReconciliationFailed(
            f"{profile.name}: {len(unanswered)} of {len(final)} acknowledged ids got no "
            f"verdict from ledger.http_get within {grace_s:g} s (e.g. {unanswered[0]}: "
            f"{answers[unanswered[0]]}): make the target answer 2xx or 404 for them, or "
            "give it a longer grace",
            profile=profile.name,
        )
    return set(pending), first_wrong or set(), lag_s


def _is_2xx(answer: str) -> bool:
    return answer.isdigit() and answer.startswith("2")


def _last_entries(ledger: list[LedgerEntry], final: dict[str, Expectation]) -> list[LedgerEntry]:
    last: dict[str, LedgerEntry] = {}
    for entry in ledger:
        if entry.id in final:
            last[entry.id] = entry
    return sorted(last.values(), key=lambda e: e.t_s)


def _lost_by_entry_point(
    profile: TargetProfile,
    run_dir: Path,
    final: dict[str, Expectation],
    entries: list[LedgerEntry],
    *,
    grace_s: float,
) -> set[str] | Reconciliation:
    from gameday.target.hooks import HookContext, load_entry_point

    assert profile.ledger is not None and profile.ledger.entry_point is not None
    entry = profile.ledger.entry_point
    function = load_entry_point(entry, field="ledger.entry_point", folder=profile.folder)
    context = HookContext(base_url=profile.base_url, run_dir=run_dir, params={"grace_s": grace_s})
    try:
        returned: Iterable[str] | Reconciliation = function(entries, context)
        if isinstance(returned, Reconciliation):
            return returned
        missing = {str(i) for i in returned}
    except Exception as exc:  # the target's own code: one line, exit 2
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ReconciliationFailed(
            f"ledger.entry_point ({entry}) failed: {first}", profile=profile.name
        ) from exc
    unknown = sorted(missing - set(final))
    if unknown:
        raise ReconciliationFailed(
            f"ledger.entry_point ({entry}) returned {len(unknown)} ids the ledger did not "
            f"judge (e.g. {unknown[0]}): it must return only ids of the entries it was given",
            profile=profile.name,
        )
    return missing
