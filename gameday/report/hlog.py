"""Reading an HdrHistogram interval log (histograms/*.hlog) one line at a time.

    for second, first, counts in read_intervals(path):
        total[first : first + len(counts)] += counts   # `counts` is reused: copy or add

    folded = HistogramFile(path, problems)
    folded.prefetch([0, 600, 660])      # one pass: seconds cut at these points
    folded.merged(0, 600)               # exact merge of seconds [0, 600), from memory

A report of a six-hour run reads 21,600 histograms per endpoint: holding them all
cost about 1 GiB, and `HdrHistogram.decode` (a new histogram and its counts array
per line) most of the time. Here each line is decoded by hdrh's own C varint
decoder into one reused buffer, and a `HistogramFile` keeps only one merged
histogram per stretch of seconds between the cut points it was asked for.
"""

from __future__ import annotations

import binascii
import bisect
import ctypes
import math
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
from hdrh.codec import decode as _varint_decode  # hdrh's C varint decoder (pyhdrh)

from gameday import histograms
from gameday.report import hdr

_YEAR_S = 365 * 24 * 3600.0
_EXTERNAL = struct.Struct(">II")  # cookie, compressed length
# cookie, varint length, normalizing offset, digits, lowest, highest, conversion ratio
_PAYLOAD = struct.Struct(">IIIIqqd")
_WORD_SIZE = 8
# the errors a broken line raises on its way through base64, zlib and the header
DECODE_ERRORS = (ValueError, OSError, zlib.error, struct.error, binascii.Error)


def read_intervals(path: Path) -> Iterator[tuple[int, int, npt.NDArray[np.int64]]]:
    """(second, first non-zero index, counts from that index to the last non-zero
    one) per interval, in file order. Seconds are relative to the log's StartTime
    when its timestamps are absolute, rounded to the nearest second. The counts
    array is a view of a buffer reused by the next line; an empty interval yields
    an empty array. Raises one of DECODE_ERRORS on a broken line."""
    size = hdr.counts_len()
    buffer = (ctypes.c_int64 * size)()
    address = ctypes.addressof(buffer)
    counts: npt.NDArray[np.int64] = np.ctypeslib.as_array(buffer)
    start_time: float | None = None
    with open(path) as f:
        for line in f:
            if line.startswith("#[StartTime:"):
                start_time = float(line.split()[1])
                continue
            if line.startswith(("#", '"')) or not line.strip():
                continue
            stamp, _length, _max, encoded = line.split(",", 3)
            t = float(stamp)
            if start_time is not None and t > start_time - _YEAR_S:
                t -= start_time
            second = int(round(t))
            found = _decode_into(encoded.strip(), address, size)
            if found is None:
                yield second, 0, counts[:0]
                continue
            first, last = found
            yield second, first, counts[first : last + 1]
            counts[first : last + 1] = 0


def _decode_into(encoded: str, address: int, size: int) -> tuple[int, int] | None:
    """Decode one compressed histogram into the zeroed buffer at `address`: the
    first and last non-zero index, or None when it is empty."""
    raw = binascii.a2b_base64(encoded)
    _cookie, length = _EXTERNAL.unpack_from(raw)
    data = zlib.decompress(raw[_EXTERNAL.size : _EXTERNAL.size + length])
    _cookie, varint_len, _offset, digits, lowest, _highest, _ratio = _PAYLOAD.unpack_from(data)
    if digits != histograms.SIGNIFICANT_DIGITS or lowest != histograms.LOWEST_US:
        raise ValueError(
            f"a histogram of {digits} significant digits from {lowest} µs; expected "
            f"{histograms.SIGNIFICANT_DIGITS} from {histograms.LOWEST_US} µs"
        )
    if varint_len == 0:
        return None
    result = _varint_decode(data, _PAYLOAD.size, address, size, _WORD_SIZE)
    if not result["total"]:
        return None
    return int(result["min_nonzero_index"]), int(result["max_nonzero_index"])


class HistogramFile:
    """One endpoint's per-second histograms, folded from its hlog file on demand.

    `prefetch(cuts)` reads the file once and keeps one merged histogram per
    stretch between consecutive cut points (plus before the first and after the
    last); `merged(start_s, end_s)` is then an exact sum of stretches when both
    ends are cut points (or None), and otherwise reads the file again with the
    new cuts added. A file that turns out broken is named in `problems` and
    counts as empty.
    """

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self._problems = problems
        self._cuts: list[int] = []
        self._stretches: npt.NDArray[np.int64] | None = None

    def prefetch(self, cuts: Iterable[float]) -> None:
        wanted = sorted({math.ceil(c) for c in cuts} | set(self._cuts))
        if self._stretches is not None and wanted == self._cuts:
            return
        stretches = np.zeros((len(wanted) + 1, hdr.counts_len()), dtype=np.int64)
        try:
            for second, first, counts in read_intervals(self.path):
                row = stretches[bisect.bisect_right(wanted, second)]
                row[first : first + len(counts)] += counts
        except DECODE_ERRORS as exc:
            problem = f"histograms/{self.path.name} is unreadable: {exc}"
            if problem not in self._problems:
                self._problems.append(problem)
            stretches[:] = 0
        self._cuts, self._stretches = wanted, stretches

    def merged(self, start_s: float | None = None, end_s: float | None = None) -> hdr.Counts:
        """Exact merge of the seconds in [start_s, end_s)."""
        ends = [c for c in (start_s, end_s) if c is not None]
        self.prefetch(ends)
        assert self._stretches is not None
        first = 0 if start_s is None else self._cuts.index(math.ceil(start_s)) + 1
        stop = len(self._cuts) + 1 if end_s is None else self._cuts.index(math.ceil(end_s)) + 1
        if first >= stop:
            return hdr.empty()
        merged: hdr.Counts = self._stretches[first:stop].sum(axis=0)
        return merged
