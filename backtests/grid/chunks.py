"""Chunks of parameter sets: the unit of work of the local and the Dask grid runners."""
from __future__ import annotations

import math

import numpy as np
from tqdm import tqdm

from backtests.grid.nb import grid_nb


def chunk_bounds(n: int, threads: int) -> list[tuple[int, int]]:
    """Chunks of the sets: a few per thread and at most ~40 in all (the progress bar's steps;
    also Dask's unit of work)."""
    if n == 0:
        return []
    size = max(4 * max(threads, 1), math.ceil(n / 40))
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def run_chunk(mk, mi, rows: np.ndarray, split: int) -> np.ndarray:
    """One call of the kernel on a chunk of packed rows."""
    return grid_nb(mk, mi, np.ascontiguousarray(rows, dtype=np.float64), int(split))


def progress(total: int, enabled: bool):
    return tqdm(total=total, unit="set", desc="grid", disable=not enabled, leave=True,
                dynamic_ncols=True)
