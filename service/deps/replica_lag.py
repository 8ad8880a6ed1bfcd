"""How far a PostgreSQL standby is behind the primary, as the service's role checks see it.

    lag = ReplicaLag()
    lag.saw_primary(lsn, at_s=time.monotonic())   # each role check: pg_current_wal_lsn()
    lag.seconds_behind(replay_lsn, now_s=...)     # a standby's pg_last_wal_replay_lsn()
    lag.bytes_behind(replay_lsn)                  # WAL the standby has still to replay

Seconds behind: how long the primary has been known to hold WAL the standby has not
replayed, that is now minus the first role check that saw the primary past the standby's
replay position; 0 when the standby has replayed everything the primary had at the last
check. It is a lower bound, with the resolution of one role check
(``postgres_router.WATCH_INTERVAL_S``).

Why against the primary's position rather than on the standby alone (the usual
``now() - pg_last_xact_replay_timestamp()`` when receive and replay positions differ):
that reads 0 when the standby stops *receiving* (the nodes partitioned from each other, a
dead walreceiver: both positions are stuck and equal), which is when the lag matters most
for a failover; and after a quiet hour it jumps to an hour when a checkpoint record
arrives, since the last replayed transaction is that old.

Positions are plain integers (``lsn - '0/0'::pg_lsn``). Only the first check that saw each
new primary position is kept, at most ``MAX_SAMPLES`` of them (hours at one check every
2 s under constant writes): past that, a standby behind the oldest one kept reads as
behind since then.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

MAX_SAMPLES = 4096


@dataclass
class ReplicaLag:
    """The primary's WAL positions over time, in one process (one router)."""

    _at_s: list[float] = field(default_factory=list)  # when each position was first seen
    _lsn: list[int] = field(default_factory=list)  # increasing

    def saw_primary(self, lsn: int, *, at_s: float) -> None:
        """The primary's ``pg_current_wal_lsn()`` at monotonic time `at_s`."""
        if self._lsn and lsn < self._lsn[-1]:
            self.reset()  # not the same primary's WAL any more
        if self._lsn and lsn == self._lsn[-1]:
            return  # nothing written since: the first time it was seen is what counts
        self._at_s.append(at_s)
        self._lsn.append(lsn)
        if len(self._lsn) > MAX_SAMPLES:
            del self._at_s[0], self._lsn[0]

    def reset(self) -> None:
        """Forget every position: a new primary (a failover) starts a new history."""
        self._at_s.clear()
        self._lsn.clear()

    def seconds_behind(self, replay_lsn: int, *, now_s: float) -> float:
        """Since when the primary has been seen ahead of `replay_lsn`; 0 if never."""
        first_ahead = bisect.bisect_right(self._lsn, replay_lsn)
        if first_ahead == len(self._lsn):
            return 0.0
        return max(0.0, now_s - self._at_s[first_ahead])

    def bytes_behind(self, replay_lsn: int) -> int:
        """WAL bytes between `replay_lsn` and the primary's last known position."""
        if not self._lsn:
            return 0
        return max(0, self._lsn[-1] - replay_lsn)


__all__ = ["MAX_SAMPLES", "ReplicaLag"]
