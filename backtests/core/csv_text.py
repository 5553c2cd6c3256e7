"""CSV text of the run folder's files, built column by column in compiled code.

A column is a :class:`Cells`: the UTF-8 bytes of its cells back to back and their offsets.
:func:`fixed_cells` writes floats with a fixed number of decimals, byte for byte what Python's
``format(v, ".{d}f")`` writes (the same rounding of the exact binary value, ``-0.00`` for a
small negative); :func:`int_cells` writes integers; :func:`text_cells` takes Python strings
(quoted by the caller where needed). :func:`csv_join` interleaves the columns with commas and
newlines. It replaces per-value f-strings that cost about a second for a 10-year run folder
(``docs/benchmarks.md``); ``tests/test_csv_text.py`` compares every writer with Python's
formatting on random and edge values.

Why the result is exact: for ``s = v × 10^d`` computed in floating point, ``round(s)`` is the
correctly rounded decimal unless the exact product lies within a few units in the last place of
a half (``x.5``). Those cells, and cells too large for exact integers, are formatted by Python
instead (in practice none: run-folder values are cents and prices).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numba import njit

#: Distance from a half (relative to the scaled value, plus an absolute floor) below which a
#: cell is formatted by Python: a float product is off by at most half an ulp (1.1e-16
#: relative); this leaves a margin of ten thousand.
HALF_MARGIN = 1e-12
HALF_FLOOR = 1e-9
#: Scaled values at or above this magnitude are formatted by Python (exact int64 below 2**53).
MAX_SCALED = 2.0 ** 52


@dataclass(frozen=True)
class Cells:
    """The cells of one CSV column: ``data[offsets[i]:offsets[i + 1]]`` is cell ``i`` (UTF-8)."""
    offsets: np.ndarray   # int64, n + 1
    data: np.ndarray      # uint8

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def texts(self) -> list[str]:
        raw = self.data.tobytes()
        o = self.offsets.tolist()
        return [raw[o[i]:o[i + 1]].decode("utf-8") for i in range(len(o) - 1)]


@njit(cache=True)
def _fixed_plan(v, decimals, empty_nonfinite):
    """Per cell: its length in bytes, or -1 where Python must format it."""
    n = len(v)
    scale = 10.0 ** decimals
    lengths = np.empty(n, np.int64)
    for i in range(n):
        x = v[i]
        if not np.isfinite(x):
            lengths[i] = 0 if empty_nonfinite else -1
            continue
        s = x * scale
        c = np.rint(s)
        a = abs(c)
        if a >= MAX_SCALED or abs(abs(s - c) - 0.5) <= HALF_MARGIN * abs(s) + HALF_FLOOR:
            lengths[i] = -1
            continue
        whole = np.int64(a) // np.int64(10 ** decimals)
        digits = 1
        while whole >= 10:
            whole //= 10
            digits += 1
        lengths[i] = (1 if x < 0.0 else 0) + digits + (decimals + 1 if decimals > 0 else 0)
    return lengths


@njit(cache=True)
def _fixed_write(v, decimals, lengths, offsets, data, extra, extra_offsets, extra_index):
    """Write each cell of ``_fixed_plan`` at its offset; cells planned -1 copy their Python
    text from ``extra`` (``extra_index[i]``: its number there)."""
    n = len(v)
    scale = 10.0 ** decimals
    p = np.int64(10 ** decimals)
    for i in range(n):
        at = offsets[i]
        if lengths[i] < 0:
            k = extra_index[i]
            for b in range(extra_offsets[k], extra_offsets[k + 1]):
                data[at] = extra[b]
                at += 1
            continue
        if lengths[i] == 0:
            continue
        x = v[i]
        a = np.int64(abs(np.rint(x * scale)))
        if x < 0.0:
            data[at] = 45              # "-"
            at += 1
        end = offsets[i + 1]
        frac = a % p
        for _ in range(decimals):
            end -= 1
            data[end] = 48 + frac % 10
            frac //= 10
        if decimals > 0:
            end -= 1
            data[end] = 46             # "."
        whole = a // p
        while True:
            end -= 1
            data[end] = 48 + whole % 10
            whole //= 10
            if whole == 0:
                break


def arrow_cells(arr: pa.Array) -> Cells:
    """The cells of an Arrow string array without nulls (its buffers, not copied per cell)."""
    arr = arr.cast(pa.large_string())
    if arr.null_count:
        raise TypeError("CSV cells must be strings, not None")
    _validity, offsets, data = arr.buffers()
    o = np.frombuffer(offsets, np.int64)[arr.offset:arr.offset + len(arr) + 1]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return Cells(o - o[0], raw[o[0]:o[-1]])


def fixed_cells(values, decimals: int, *, empty_nonfinite: bool = True) -> Cells:
    """Floats with ``decimals`` decimals, as ``format(v + 0.0, f".{decimals}f")``; NaN and
    infinities are empty cells (``empty_nonfinite``) or Python's ``nan``/``inf``."""
    v = np.ascontiguousarray(np.asarray(values, dtype=np.float64) + 0.0)
    lengths = _fixed_plan(v, decimals, empty_nonfinite)
    odd = np.flatnonzero(lengths < 0)
    extra_index = np.zeros(len(v), np.int64)
    extra_index[odd] = np.arange(len(odd))
    extra = text_cells([format(x, f".{decimals}f") for x in v[odd].tolist()])
    sizes = lengths.copy()
    sizes[odd] = np.diff(extra.offsets)
    offsets = np.zeros(len(v) + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    data = np.empty(int(offsets[-1]), np.uint8)
    _fixed_write(v, decimals, lengths, offsets, data, extra.data, extra.offsets, extra_index)
    return Cells(offsets, data)


def int_cells(values) -> Cells:
    """Integers as ``str(int(v))``."""
    v = np.asarray(values)
    if len(v) and not np.issubdtype(v.dtype, np.integer):
        v = np.asarray([int(x) for x in v.tolist()], dtype=np.int64)
    return fixed_cells(v.astype(np.float64), 0) if len(v) and np.abs(v).max() < MAX_SCALED \
        else text_cells([str(int(x)) for x in v.tolist()])


def text_cells(texts: list[str]) -> Cells:
    """Python strings as they are (the caller quotes what needs quoting), converted by Arrow:
    no per-string Python."""
    return arrow_cells(pa.array(list(texts), type=pa.large_string()))


@njit(cache=True)
def _days(days, data):
    """``YYYY-MM-DD`` of each day number (days since 1970-01-01), 10 bytes each."""
    for i in range(len(days)):
        z = days[i] + 719468                       # civil-from-days (proleptic Gregorian)
        era = (z if z >= 0 else z - 146096) // 146097
        doe = z - era * 146097
        yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153
        d = doy - (153 * mp + 2) // 5 + 1
        m = mp + 3 if mp < 10 else mp - 9
        y = yoe + era * 400 + (1 if m <= 2 else 0)
        at = 10 * i
        for k, (value, width) in enumerate(((y, 4), (m, 2), (d, 2))):
            end = at + (0, 5, 8)[k] + width
            for _ in range(width):
                end -= 1
                data[end] = 48 + value % 10
                value //= 10
        data[at + 4] = 45
        data[at + 7] = 45


def day_cells(values) -> Cells:
    """Dates (``datetime64``, ``Timestamp``s or ISO texts) as ``YYYY-MM-DD``."""
    days = np.asarray(values, dtype="datetime64[D]")
    n = len(days)
    num = days.astype(np.int64)
    if n and (np.isnat(days).any() or num.min() < -354285 or num.max() > 2932896):
        raise ValueError("day_cells: dates must be between 1000-01-01 and 9999-12-31")
    data = np.empty(10 * n, np.uint8)
    _days(np.ascontiguousarray(num), data)
    return Cells(np.arange(n + 1, dtype=np.int64) * 10, data)


@njit(cache=True)
def _join(offsets, data, out):
    k, n1 = offsets.shape
    at = 0
    for i in range(n1 - 1):
        for c in range(k):
            for b in range(offsets[c, i], offsets[c, i + 1]):
                out[at] = data[b]
                at += 1
            out[at] = 44 if c < k - 1 else 10      # "," or "\n"
            at += 1


def csv_join(header, columns) -> str:
    """``header`` line, then one line per row of ``columns`` (each a :class:`Cells` or a list
    of strings, all of one length), every line ending in a newline."""
    cols = [c if isinstance(c, Cells) else text_cells(c) for c in columns]
    head = ",".join(header) + "\n"
    if not cols or len(cols[0]) == 0:
        return head
    n = len(cols[0])
    if any(len(c) != n for c in cols):
        raise ValueError("csv_join: columns of different lengths")
    bases = np.cumsum([0] + [len(c.data) for c in cols[:-1]])
    offsets = np.stack([c.offsets + b for c, b in zip(cols, bases)])
    data = np.concatenate([c.data for c in cols])
    out = np.empty(len(data) + n * len(cols), np.uint8)
    _join(offsets, data, out)
    return head + out.tobytes().decode("utf-8")
