"""Numba kernels over a text's code points (``uint32``, from ``str.encode("utf-32-le")``):
character mapping and digit runs, each one pass instead of a regex or ``str`` method per
character class (Python's regex engine tests a character class one character at a time)."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def map_units_nb(units, table, multi):
    """``(table[units], ok)``; ``ok`` is False when a unit is outside the BMP or flagged in
    ``multi`` (the caller then takes its plain path)."""
    n = units.shape[0]
    out = np.empty(n, dtype=np.uint32)
    for i in range(n):
        u = units[i]
        if u > 0xFFFF or multi[u]:
            return out, False
        out[i] = table[u]
    return out, True


@njit(cache=True)
def digit_runs_nb(units, decimal, min_len):
    """``([K, 2] int64 (start, end), ok)``: every maximal run of at least ``min_len`` decimal
    digits (``decimal``: a flag per BMP code point), i.e. what ``re.finditer(r"\\d{min_len,}")``
    finds; ``ok`` is False when the text holds a character outside the BMP (not looked up)."""
    n = units.shape[0]
    out = np.empty((n // max(min_len, 1) + 1, 2), dtype=np.int64)
    k = 0
    i = 0
    while i < n:
        if units[i] > 0xFFFF:
            return out[:0], False
        if decimal[units[i]]:
            j = i + 1
            while j < n and units[j] <= 0xFFFF and decimal[units[j]]:
                j += 1
            if j - i >= min_len:
                out[k, 0] = i
                out[k, 1] = j
                k += 1
            i = j
        else:
            i += 1
    return out[:k], True
