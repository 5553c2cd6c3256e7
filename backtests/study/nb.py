"""Numba kernels of the event study (``backtests.study``): index returns, one pass over the
marks for forward paths and fillability, and per-group statistics with a seeded bootstrap.

Inputs are the aligned ``[sessions, stocks]`` float64 arrays of a market; nothing here knows
codes, dates or group names (the pandas-facing side in :mod:`backtests.study.events` and
:mod:`backtests.study.summary` attaches them).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from backtests.engine.nb import PRICE_TOL
from backtests.features.scan import HALF_CENT

# Fill states at the entry open. The comparisons use the engine's 1e-6 CNY tolerance
# (PRICE_TOL), so "buyable" here is exactly what the engine would fill at the open; a
# limit-up close for the streak is counted as hypebt scan counts it (HALF_CENT).
FILL_BUYABLE, FILL_AT_LIMIT, FILL_SEALED, FILL_SUSPENDED = 0, 1, 2, 3
FILL_NAMES = ("buyable", "opened_at_limit", "sealed", "suspended")

# Measures of a path, the last axis of event_paths_nb's output.
M_RET_CLOSE, M_RET_OPEN, M_CAR_CLOSE, M_CAR_OPEN, M_CARB_CLOSE, M_CARB_OPEN = range(6)
N_MEASURES = 6


@njit(cache=True)
def index_returns_nb(open_, close, prev_close, slot, n_slots):
    """Equal-weight daily returns ``[S, 1 + n_slots]`` (column 0 the whole market, 1 + k the
    stocks whose ``slot`` is k): close/prev_close − 1 and close/open − 1, averaged over the
    stocks with a bar that session (0 where none traded)."""
    n_sess, n_stocks = close.shape
    cc = np.zeros((n_sess, n_slots + 1))
    oc = np.zeros((n_sess, n_slots + 1))
    ncc = np.zeros((n_sess, n_slots + 1))
    noc = np.zeros((n_sess, n_slots + 1))
    for s in range(n_sess):
        for j in range(n_stocks):
            c = close[s, j]
            if np.isnan(c):
                continue
            k = slot[j] + 1
            p = prev_close[s, j]
            if p > 0.0:
                r = c / p - 1.0
                cc[s, 0] += r
                ncc[s, 0] += 1.0
                cc[s, k] += r
                ncc[s, k] += 1.0
            o = open_[s, j]
            if o > 0.0:
                r = c / o - 1.0
                oc[s, 0] += r
                noc[s, 0] += 1.0
                oc[s, k] += r
                noc[s, k] += 1.0
    for s in range(n_sess):
        for k in range(n_slots + 1):
            cc[s, k] = cc[s, k] / ncc[s, k] if ncc[s, k] > 0 else 0.0
            oc[s, k] = oc[s, k] / noc[s, k] if noc[s, k] > 0 else 0.0
    return cc, oc


@njit(cache=True)
def event_paths_nb(t_idx, j_idx, open_, low, close, prev_close, limit_up, slot, cc, oc, horizon):
    """One pass over the marks (mark i: session ``t_idx[i]``, stock ``j_idx[i]``).

    Returns ``fill[M]`` (FILL_*), ``entry[M]`` (the open when fillable at the open, else NaN),
    ``streak[M]`` (limit-up closes in a row ending the session before the mark, suspended
    sessions skipped) and ``paths[M, horizon + 1, N_MEASURES]``: at the close of session
    t + h, the stock's return from the previous close and from the entry, and those minus
    the equal-weight market's (column 0 of ``cc``/``oc``) and the stock's board index
    (column 1 + slot) compounded over the same window (from the open: that session's
    close/open, then close to close). A suspended session carries the last close; a path past
    the panel's end is NaN.
    """
    n_sess = close.shape[0]
    n_marks = t_idx.shape[0]
    fill = np.empty(n_marks, np.int8)
    entry = np.full(n_marks, np.nan)
    streak = np.zeros(n_marks, np.int32)
    paths = np.full((n_marks, horizon + 1, N_MEASURES), np.nan)
    for i in range(n_marks):
        t = t_idx[i]
        j = j_idx[i]
        b = slot[j] + 1
        pc = prev_close[t, j]
        o = open_[t, j]
        lu = limit_up[t, j]
        if np.isnan(close[t, j]):
            fill[i] = FILL_SUSPENDED
        elif not np.isnan(lu) and o >= lu - PRICE_TOL:
            fill[i] = FILL_SEALED if low[t, j] >= lu - PRICE_TOL else FILL_AT_LIMIT
        else:
            fill[i] = FILL_BUYABLE
        ep = o if fill[i] == FILL_BUYABLE or fill[i] == FILL_AT_LIMIT else np.nan
        entry[i] = ep
        # streak at the previous traded close
        s = t - 1
        count = 0
        while s >= 0:
            c = close[s, j]
            if np.isnan(c):
                s -= 1
                continue
            u = limit_up[s, j]
            if np.isnan(u) or c < u - HALF_CENT:
                break
            count += 1
            s -= 1
        streak[i] = count
        last = pc
        mkt_c = 1.0
        brd_c = 1.0
        mkt_o = 1.0
        brd_o = 1.0
        for h in range(horizon + 1):
            s = t + h
            if s >= n_sess:
                break
            c = close[s, j]
            if not np.isnan(c):
                last = c
            mkt_c *= 1.0 + cc[s, 0]
            brd_c *= 1.0 + cc[s, b]
            if h == 0:
                mkt_o *= 1.0 + oc[s, 0]
                brd_o *= 1.0 + oc[s, b]
            else:
                mkt_o *= 1.0 + cc[s, 0]
                brd_o *= 1.0 + cc[s, b]
            if pc > 0.0 and not np.isnan(last):
                r = last / pc - 1.0
                paths[i, h, M_RET_CLOSE] = r
                paths[i, h, M_CAR_CLOSE] = r - (mkt_c - 1.0)
                paths[i, h, M_CARB_CLOSE] = r - (brd_c - 1.0)
            if ep > 0.0:
                r = last / ep - 1.0
                paths[i, h, M_RET_OPEN] = r
                paths[i, h, M_CAR_OPEN] = r - (mkt_o - 1.0)
                paths[i, h, M_CARB_OPEN] = r - (brd_o - 1.0)
    return fill, entry, streak, paths


@njit(cache=True)
def _mix64(x):
    # splitmix64 finaliser: a counter-based generator, so draws do not depend on thread order
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def _quantile_sorted(a, n, q):
    # numpy's default (linear) quantile of the first n values of a sorted array
    pos = q * (n - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    return a[lo] + (a[hi] - a[lo]) * (pos - lo)


@njit(cache=True)
def _median(x):
    # numpy's median by selection (np.partition), not a full sort; x is reordered
    m = x.shape[0]
    h = m // 2
    x[:] = np.partition(x, h)
    if m % 2:
        return x[h]
    return 0.5 * (x[h] + x[:h].max())


@njit(cache=True)
def group_stats_nb(values, order, starts):
    """Statistics of ``values[M, K]`` (NaN = no value) per group; group g holds the marks
    ``order[starts[g]:starts[g + 1]]``. Returns ``[G, K, 5]``: count, mean, median (numpy's
    linear rule), hit rate (share > 0) and t-statistic (mean / (sd / sqrt(n)), sd with n - 1;
    NaN when n < 2 or sd = 0)."""
    n_groups = starts.shape[0] - 1
    k_all = values.shape[1]
    out = np.full((n_groups, k_all, 5), np.nan)
    for g in range(n_groups):       # serial: as fast on 2 cores, and no spinning threads
        #                             left to slow the bootstrap's matrix products after it
        rows = order[starts[g]:starts[g + 1]]
        n = rows.shape[0]
        buf = np.empty(n)
        for k in range(k_all):
            m = 0
            for r in range(n):
                v = values[rows[r], k]
                if not np.isnan(v):
                    buf[m] = v
                    m += 1
            out[g, k, 0] = m
            if m == 0:
                continue
            x = buf[:m]
            mean = x.sum() / m
            out[g, k, 1] = mean
            out[g, k, 2] = _median(x)
            out[g, k, 3] = (x > 0.0).sum() / m
            if m > 1:
                sd = np.sqrt(((x - mean) ** 2).sum() / (m - 1))
                if sd > 0.0:
                    out[g, k, 4] = mean / (sd / np.sqrt(m))
    return out


@njit(cache=True)
def _boot_counts_row(out, r, n, b, base):
    nn = np.uint64(n)
    for d in range(n):
        x = _mix64(base + np.uint64(b) * nn + np.uint64(d))
        # top 32 bits scaled to [0, n) (Lemire's multiply-shift; a 64-bit modulo is slow)
        out[r, int(((x >> np.uint64(32)) * nn) >> np.uint64(32))] += 1.0


@njit(cache=True)
def _boot_base(seed, key):
    return _mix64(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(key))


@njit(cache=True)
def boot_counts_nb(n, first, n_rows, seed, key):
    """``[n_rows, n]`` float32 bootstrap counts for resamples ``first .. first + n_rows - 1``
    of a group of ``n`` marks: row b counts how often each mark is drawn in ``n`` draws with
    replacement. Draw d of resample b is ``splitmix64(seed, key, b, d)`` scaled to
    ``0..n-1``: the same on any thread count and for any blocking of the resamples. The mean
    of resample b is then ``counts[b] @ values / counts[b] @ finite`` (one matrix product for
    all horizons; counts are exact in float32 up to 2**24 marks). Serial on purpose: numba's
    OpenMP threads spin after a parallel region and starve the BLAS threads of the matrix
    product that follows (3.6x slower measured on 2 cores)."""
    out = np.zeros((n_rows, n), np.float32)
    base = _boot_base(seed, key)
    for r in range(n_rows):
        _boot_counts_row(out, r, n, first + r, base)
    return out


@njit(cache=True)
def _quantile_select(x, q):
    # numpy's linear quantile of x (finite values) by selection, not a full sort; x is reordered
    m = x.shape[0]
    pos = q * (m - 1)
    lo = int(np.floor(pos))
    x[:] = np.partition(x, lo)
    a = x[lo]
    if lo + 1 >= m:
        return a
    b = x[lo + 1:].min()
    return a + (b - a) * (pos - lo)


@njit(cache=True)
def column_quantiles_nb(values, lo, hi):
    """``[2, K]``: numpy's linear quantiles ``lo`` and ``hi`` of each column of ``values``,
    NaN skipped (NaN where a column has no value)."""
    n, k_all = values.shape
    out = np.full((2, k_all), np.nan)
    buf = np.empty(n)
    for k in range(k_all):
        m = 0
        for r in range(n):
            v = values[r, k]
            if not np.isnan(v):
                buf[m] = v
                m += 1
        if m > 0:
            out[0, k] = _quantile_select(buf[:m], lo)
            out[1, k] = _quantile_select(buf[:m], hi)
    return out
