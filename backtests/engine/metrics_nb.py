"""Numba return statistics of equity curves, equal to quantstats' numbers (for grids).

:func:`backtests.report.metrics.compute_metrics` computes a single run's return statistics with
quantstats; a parameter grid has thousands of equity curves and calls these kernels instead.
``tests/test_metrics.py`` checks both give the same numbers to 1e-9.

Definitions (quantstats 0.0.86, ``periods = 252``, ``rf = 0``), with daily returns
``r[t] = equity[t] / equity[t-1] - 1`` and ``equity[-1] = initial`` (the starting cash, so the
first session's return counts, fees of the first buys included):

==================  ==============================================================================
field (index)       definition
==================  ==============================================================================
total_return (0)    ``prod(1 + r) - 1``
cagr (1)            ``(1 + total_return) ** (252 / n) - 1``, ``n`` = number of returns
volatility (2)      ``std(r, ddof=1) * sqrt(252)``
sharpe (3)          ``mean(r) / std(r, ddof=1) * sqrt(252)``
sortino (4)         ``mean(r) / sqrt(sum(r[r < 0] ** 2) / n) * sqrt(252)``
max_drawdown (5)    ``min(wealth / running_max(wealth)) - 1`` over wealth ``1, (1+r[0]), ...``
                    (a negative fraction; 0 when the curve never falls)
==================  ==============================================================================

Undefined values are NaN, never infinities: with fewer than two returns volatility and Sharpe
are NaN; Sharpe is NaN when the volatility is zero (``std <= 1e-12 * |mean|``, which also catches
the rounding noise of a constant-rate curve, where quantstats would print ±1e15); Sortino is NaN
when no return is negative. A curve that is empty or does not start from a positive
``initial`` gives all NaN. ``metrics.json`` writes these as ``null`` with the reason.
"""
from __future__ import annotations

import numpy as np
from numba import njit

PERIODS = 252
#: Sharpe is undefined when ``std <= ZERO_VOL * |mean|`` (see the module doc); shared with
#: ``backtests.report.metrics`` so the two agree.
ZERO_VOL = 1e-12
#: Field order of the vectors returned by :func:`returns_stats_nb`.
RETURN_STATS = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown")
N_STATS = len(RETURN_STATS)


@njit(cache=True)
def returns_stats_nb(equity, initial):
    """float64[6] return statistics of one equity curve ``equity[S]`` that started at
    ``initial`` (fields in :data:`RETURN_STATS` order; NaN where undefined)."""
    out = np.full(6, np.nan)
    n = equity.shape[0]
    if n == 0 or not initial > 0.0:
        return out
    r = np.empty(n)
    prev = initial
    for t in range(n):
        r[t] = equity[t] / prev - 1.0
        prev = equity[t]
    # total return and max drawdown from the compounded wealth curve (quantstats.comp,
    # quantstats.max_drawdown with its phantom baseline of 1.0 before the first return)
    wealth = 1.0
    peak = 1.0
    mdd = 0.0
    for t in range(n):
        wealth *= 1.0 + r[t]
        if wealth > peak:
            peak = wealth
        dd = wealth / peak - 1.0
        if dd < mdd:
            mdd = dd
    total = wealth - 1.0
    out[0] = total
    if wealth >= 0.0:
        out[1] = wealth ** (PERIODS / n) - 1.0
    out[5] = mdd
    mean = r.sum() / n
    down = 0.0
    for t in range(n):
        if r[t] < 0.0:
            down += r[t] * r[t]
    if n >= 2:
        ss = 0.0
        for t in range(n):
            d = r[t] - mean
            ss += d * d
        std = np.sqrt(ss / (n - 1))
        out[2] = std * np.sqrt(PERIODS)
        if std > ZERO_VOL * abs(mean):
            out[3] = mean / std * np.sqrt(PERIODS)
    downside = np.sqrt(down / n)
    if downside > 0.0:
        out[4] = mean / downside * np.sqrt(PERIODS)
    return out
