"""Numba rules of the entry filters and the sentiment gate: each returns a skip reason or 0.

A rule deciding for session ``t`` reads the market-state features of session ``t - 1``
(:mod:`backtests.features_nb`), the reference previous close and the open of ``t``, and the
marks of ``t`` — never a later bar. A threshold that is NaN is off; a value the rule needs
but cannot know (the first session of the market, a stock without a bar at ``t - 1``) fails
the rule: a filter lets a mark through only when every rule it sets is known to hold.
The packed parameter layout is ``backtests.records.PARAM_FIELDS``; the user's page is
``docs/strategies.md``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from backtests.features.nb import (SF_BROKEN_RATE, SF_DOWN_TOTAL, SF_HEIGHT, SF_PROMOTION_1,
                                   SF_PROMOTION_2PLUS, SF_UP_TOTAL)
from backtests.core.records import (
    P_BOARDS_MASK, P_DRAGON_HEAD, P_EXCLUDE_ST, P_GATE_MAX_BROKEN_RATE, P_GATE_MAX_LIMIT_DOWNS,
    P_GATE_MIN_HEIGHT, P_GATE_MIN_LIMIT_UPS, P_GATE_MIN_PROMOTION_1, P_GATE_MIN_PROMOTION_2PLUS,
    P_MAX_AMOUNT, P_MAX_OPEN_GAP, P_MAX_PRICE, P_MAX_STREAK, P_MIN_AMOUNT, P_MIN_OPEN_GAP,
    P_MIN_PRICE, P_MIN_STREAK, P_MIN_THEME_HEAT, P_THEME_WINDOW, SKIP_AMOUNT, SKIP_BOARD,
    SKIP_DRAGON_HEAD, SKIP_GATE_BROKEN_RATE, SKIP_GATE_HEIGHT, SKIP_GATE_LIMIT_DOWNS,
    SKIP_GATE_LIMIT_UPS, SKIP_GATE_PROMOTION_1, SKIP_GATE_PROMOTION_2PLUS, SKIP_NONE,
    SKIP_OPEN_GAP, SKIP_PRICE, SKIP_ST, SKIP_STREAK, SKIP_THEME_HEAT,
)

ALL_BOARDS = 15.0  # boards_mask with the four boards' bits (1 << rules.BOARD_*) set
# open / prev_close - 1 of cent prices is a ratio in binary floats: 10.50 / 10.00 - 1 is
# 0.05000000000000004. A gap exactly at a threshold counts as inside it.
GAP_TOL = 1e-9


@njit(cache=True)
def _below(value, lo):
    """``value < lo`` for a set threshold ``lo``; an unknown (NaN) value counts as failing."""
    return not np.isnan(lo) and (np.isnan(value) or value < lo)


@njit(cache=True)
def _above(value, hi):
    return not np.isnan(hi) and (np.isnan(value) or value > hi)


@njit(cache=True)
def gate_active_nb(prow):
    """True when any sentiment-gate threshold is set."""
    return not (np.isnan(prow[P_GATE_MIN_LIMIT_UPS]) and np.isnan(prow[P_GATE_MAX_LIMIT_DOWNS])
                and np.isnan(prow[P_GATE_MIN_HEIGHT]) and np.isnan(prow[P_GATE_MIN_PROMOTION_1])
                and np.isnan(prow[P_GATE_MIN_PROMOTION_2PLUS])
                and np.isnan(prow[P_GATE_MAX_BROKEN_RATE]))


@njit(cache=True)
def filters_active_nb(prow):
    """True when any per-mark entry filter is set (max_per_theme is checked on its own)."""
    return (prow[P_BOARDS_MASK] != ALL_BOARDS or prow[P_EXCLUDE_ST] != 0.0
            or not np.isnan(prow[P_MIN_PRICE]) or not np.isnan(prow[P_MAX_PRICE])
            or not np.isnan(prow[P_MIN_AMOUNT]) or not np.isnan(prow[P_MAX_AMOUNT])
            or not np.isnan(prow[P_MIN_STREAK]) or not np.isnan(prow[P_MAX_STREAK])
            or not np.isnan(prow[P_MIN_THEME_HEAT]) or prow[P_DRAGON_HEAD] > 0.0
            or not np.isnan(prow[P_MIN_OPEN_GAP]) or not np.isnan(prow[P_MAX_OPEN_GAP]))


@njit(cache=True)
def gate_reason_nb(session, t, prow):
    """Skip reason of every mark of session ``t`` from the previous session's row of the
    per-session features (``session[t - 1]``), or 0 when the gate lets the session through."""
    nan = np.nan
    up = down = height = p1 = p2 = broken = nan
    if t > 0:
        row = session[t - 1]
        up, down, height = row[SF_UP_TOTAL], row[SF_DOWN_TOTAL], row[SF_HEIGHT]
        p1, p2, broken = row[SF_PROMOTION_1], row[SF_PROMOTION_2PLUS], row[SF_BROKEN_RATE]
    if _below(up, prow[P_GATE_MIN_LIMIT_UPS]):
        return SKIP_GATE_LIMIT_UPS
    if _above(down, prow[P_GATE_MAX_LIMIT_DOWNS]):
        return SKIP_GATE_LIMIT_DOWNS
    if _below(height, prow[P_GATE_MIN_HEIGHT]):
        return SKIP_GATE_HEIGHT
    if _below(p1, prow[P_GATE_MIN_PROMOTION_1]):
        return SKIP_GATE_PROMOTION_1
    if _below(p2, prow[P_GATE_MIN_PROMOTION_2PLUS]):
        return SKIP_GATE_PROMOTION_2PLUS
    if _above(broken, prow[P_GATE_MAX_BROKEN_RATE]):
        return SKIP_GATE_BROKEN_RATE
    return SKIP_NONE


@njit(cache=True)
def window_heat_nb(heat, t, k, window):
    """Heat of theme ``k`` summed over sessions ``t - window + 1 .. t`` (0 without a theme)."""
    if k < 0:
        return 0.0
    total = 0.0
    for s in range(max(0, t - window + 1), t + 1):
        total += heat[s, k]
    return total


@njit(cache=True)
def prev_streak_nb(streak, t, j):
    """Streak (连板数) of stock ``j`` at session ``t - 1``; 0 at the first session."""
    return streak[t - 1, j] if t > 0 else 0


@njit(cache=True)
def dragon_rank_nb(mk, mi, t, m):
    """Rank (0 = the dragon head) of mark ``m`` among the marks of session ``t`` with the same
    theme: by previous streak descending, then by mark priority (score descending, code
    ascending). Marks without a theme rank -1."""
    k = mi.theme[m]
    if k < 0:
        return -1
    s = prev_streak_nb(mk.streak, t, mi.stock[m])
    rank = 0
    for m2 in range(mi.ptr[t], mi.ptr[t + 1]):
        if m2 == m or mi.theme[m2] != k:
            continue
        s2 = prev_streak_nb(mk.streak, t, mi.stock[m2])
        if s2 > s or (s2 == s and m2 < m):
            rank += 1
    return rank


@njit(cache=True)
def entry_filter_nb(mk, mi, prow, t, m):
    """Skip reason of mark ``m`` (stock ``mi.stock[m]``) at session ``t``, or 0. Rules in this
    order, the first failing one counted: board, ST, price, amount, streak, theme heat, dragon
    head, open gap."""
    j = mi.stock[m]
    mask = np.int64(prow[P_BOARDS_MASK])
    b = mk.board[j]
    if mask != np.int64(ALL_BOARDS) and (b < 0 or (mask >> b) & 1 == 0):
        return SKIP_BOARD
    if prow[P_EXCLUDE_ST] != 0.0 and mk.is_st[j]:
        return SKIP_ST
    pc = mk.prev_close[t, j]
    if _below(pc, prow[P_MIN_PRICE]) or _above(pc, prow[P_MAX_PRICE]):
        return SKIP_PRICE
    amount = mk.amount[t - 1, j] if t > 0 else np.nan
    if _below(amount, prow[P_MIN_AMOUNT]) or _above(amount, prow[P_MAX_AMOUNT]):
        return SKIP_AMOUNT
    streak = np.float64(prev_streak_nb(mk.streak, t, j)) if t > 0 else np.nan
    if _below(streak, prow[P_MIN_STREAK]) or _above(streak, prow[P_MAX_STREAK]):
        return SKIP_STREAK
    if not np.isnan(prow[P_MIN_THEME_HEAT]):
        heat = window_heat_nb(mi.heat, t, mi.theme[m], np.int64(prow[P_THEME_WINDOW]))
        if heat < prow[P_MIN_THEME_HEAT]:
            return SKIP_THEME_HEAT
    k = np.int64(prow[P_DRAGON_HEAD])
    if k > 0:
        rank = dragon_rank_nb(mk, mi, t, m)
        if rank < 0 or rank >= k:
            return SKIP_DRAGON_HEAD
    lo, hi = prow[P_MIN_OPEN_GAP], prow[P_MAX_OPEN_GAP]
    if (not np.isnan(lo) or not np.isnan(hi)) and not np.isnan(mk.close[t, j]):
        # No bar at t: the order is recorded as rejected (suspended), not skipped here.
        gap = mk.open[t, j] / pc - 1.0
        if _below(gap, lo - GAP_TOL) or _above(gap, hi + GAP_TOL):
            return SKIP_OPEN_GAP
    return SKIP_NONE
