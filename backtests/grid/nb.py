"""Numba kernel of a parameter grid: many backtests of one market, in parallel over the sets.

:func:`grid_nb` runs ``P`` packed parameter rows (``backtests.core.records.PARAM_FIELDS``) against
one market and one marks index. The outer loop is ``numba.prange`` over the sets; each set
calls the engine's own :func:`backtests.engine.nb.simulate_nb` (so a grid row is by
construction the same backtest as ``hypebt backtest`` of that set) without order records, and
writes its own row of the result: the return statistics of
:func:`backtests.engine.metrics_nb.returns_stats_nb` (the numba twin of the quantstats numbers in
``metrics.json``), the final equity and the kernel's run statistics (orders, fills, round
trips, fees, rejections by reason). Rows are independent, so the result does not depend on the
number of threads or on how the sets are chunked.

Row layout (``grid_columns(split)`` names them):

- ``[0, 6)`` return statistics of the whole run (``metrics_nb.RETURN_STATS``)
- ``6`` final equity
- ``[7, 7 + N_STATS)`` ``records.STAT_FIELDS``
- with ``split > 0`` (the number of in-sample sessions): 6 in-sample statistics of
  ``equity[:split]`` from the starting cash, then 6 out-of-sample statistics of
  ``equity[split:]`` from ``equity[split - 1]`` (positions carry across the split: it is one
  run cut in two, not two runs).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from backtests.core.records import N_STATS, P_CASH, STAT_FIELDS
from backtests.engine.metrics_nb import N_STATS as N_RETURN_STATS
from backtests.engine.metrics_nb import RETURN_STATS, returns_stats_nb
from backtests.engine.nb import simulate_nb

COL_FINAL = N_RETURN_STATS
COL_STATS = N_RETURN_STATS + 1
N_BASE = COL_STATS + N_STATS


def grid_columns(split: bool) -> tuple[str, ...]:
    """Names of the kernel's output columns (with the in/out-of-sample block when ``split``)."""
    cols = RETURN_STATS + ("final_equity",) + STAT_FIELDS
    if split:
        cols += tuple(f"is_{c}" for c in RETURN_STATS) + tuple(f"oos_{c}" for c in RETURN_STATS)
    return cols


@njit(cache=True)
def grid_row_nb(mk, mi, prow, split, out):
    """One set: run the backtest and fill ``out`` (a row of the layout above)."""
    _cash, _mv, eq, _recs, stats = simulate_nb(mk, mi, prow, False)
    initial = prow[P_CASH]
    out[:N_RETURN_STATS] = returns_stats_nb(eq, initial)
    out[COL_FINAL] = eq[eq.shape[0] - 1] if eq.shape[0] > 0 else initial
    out[COL_STATS:N_BASE] = stats
    if split > 0:
        out[N_BASE:N_BASE + N_RETURN_STATS] = returns_stats_nb(eq[:split], initial)
        out[N_BASE + N_RETURN_STATS:N_BASE + 2 * N_RETURN_STATS] = returns_stats_nb(
            eq[split:], eq[split - 1])


@njit(cache=True, parallel=True)
def grid_nb(mk, mi, prows, split):
    """float64 ``[P, K]``: one row per parameter set ``prows[p]`` (layout in the module doc);
    ``split`` = number of in-sample sessions, 0 for no split."""
    n_sets = prows.shape[0]
    width = N_BASE + (2 * N_RETURN_STATS if split > 0 else 0)
    out = np.full((n_sets, width), np.nan)
    for p in prange(n_sets):
        grid_row_nb(mk, mi, prows[p], split, out[p])
    return out
