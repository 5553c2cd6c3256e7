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


@njit(cache=True, inline="always")
def _below(value, lo):
    """``value < lo`` for a set threshold ``lo``; an unknown (NaN) value counts as failing."""
    return not np.isnan(lo) and (np.isnan(value) or value < lo)


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
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
def gate_reasons_nb(session, prow):
    """``int8 [S]``: the gate's skip reason for each session (0 = open; all 0 when no gate
    threshold is set): what every mark of that session gets (:func:`gate_reason_nb`)."""
    out = np.zeros(session.shape[0], np.int8)
    if gate_active_nb(prow):
        for t in range(session.shape[0]):
            out[t] = gate_reason_nb(session, t, prow)
    return out


@njit(cache=True, inline="always")
def window_heat_nb(heat, t, k, window):
    """Heat of theme ``k`` summed over sessions ``t - window + 1 .. t`` (0 without a theme)."""
    if k < 0:
        return 0.0
    total = 0.0
    for s in range(max(0, t - window + 1), t + 1):
        total += heat[s, k]
    return total


@njit(cache=True)
def dragon_ranks_nb(ptr, stock, theme, streak):
    """Rank (0 = the dragon head) of every mark among the marks of its session with the same
    theme: by previous streak descending, then by mark priority (the CSR order: score
    descending, code ascending); -1 for a mark without a theme. One sort per session."""
    n_sessions = ptr.shape[0] - 1
    rank = np.full(stock.shape[0], -1, np.int64)
    for t in range(n_sessions):
        lo, hi = ptr[t], ptr[t + 1]
        if hi == lo:
            continue
        # key = theme, then streak descending (capped: streaks beyond 1023 tie), then priority
        keys = np.empty(hi - lo, np.int64)
        for m in range(lo, hi):
            s = min(np.int64(streak[t - 1, stock[m]]), 1023) if t > 0 else 0
            keys[m - lo] = ((theme[m] * 1024 + (1023 - s)) << 21) + (m - lo)
        order = np.argsort(keys)
        current, r = np.int64(-2), 0
        for i in range(hi - lo):
            m = lo + order[i]
            if theme[m] < 0:
                continue
            if theme[m] != current:
                current, r = theme[m], 0
            rank[m] = r
            r += 1
    return rank


# Bits of MarkIndex.flags.
MF_BAR = 1   # the stock has a bar at the mark's session
MF_ST = 2    # the stock is ST at the mark's session


@njit(cache=True)
def mark_state_nb(mk, ptr, stock, theme, with_rank):
    """Market state of every mark of session ``t`` that the entry filters read, gathered from
    the ``[S, N]`` features into ``[M]`` arrays in mark order: the reference previous close at
    ``t``, amount and streak at ``t - 1`` (NaN at ``t = 0``), the open gap ``open / prev_close
    - 1`` at ``t``, flags (:data:`MF_BAR`, :data:`MF_ST` at ``t``) and, with ``with_rank``, the
    dragon rank (:func:`dragon_ranks_nb`; else empty). It depends on the market and the marks
    only, so a grid gathers it once for every parameter set (:func:`with_mark_state`)."""
    n_sessions = ptr.shape[0] - 1
    n_marks = stock.shape[0]
    prev_close = np.empty(n_marks)
    prev_amount = np.empty(n_marks)
    prev_streak = np.empty(n_marks)
    open_gap = np.empty(n_marks)
    flags = np.zeros(n_marks, np.uint8)
    pc_, amount, streak, open_, close, is_st = (mk.prev_close, mk.amount, mk.streak, mk.open,
                                                mk.close, mk.is_st)
    # A market built without some feature (a test's hand-made one) reads it as unknown.
    has_pc, has_amount = pc_.shape[0] > 0, amount.shape[0] > 0
    has_streak, has_st = streak.shape[0] > 0, is_st.shape[0] > 0
    for t in range(n_sessions):
        for m in range(ptr[t], ptr[t + 1]):
            j = stock[m]
            pc = pc_[t, j] if has_pc else np.nan
            prev_close[m] = pc
            prev_amount[m] = amount[t - 1, j] if t > 0 and has_amount else np.nan
            prev_streak[m] = np.float64(streak[t - 1, j]) if t > 0 and has_streak else np.nan
            open_gap[m] = open_[t, j] / pc - 1.0
            f = np.uint8(0)
            if not np.isnan(close[t, j]):
                f |= MF_BAR
            if has_st and is_st[t, j]:
                f |= MF_ST
            flags[m] = f
    rank = (dragon_ranks_nb(ptr, stock, theme, streak) if with_rank and has_streak
            else np.full(n_marks if with_rank else 0, -1, np.int64))
    return prev_close, prev_amount, prev_streak, open_gap, flags, rank


def with_mark_state(mk, mi):
    """``mi`` with its per-mark market state filled (:func:`mark_state_nb`), for every backtest
    on ``mk`` and these marks; ``mi`` as it is when ``mk`` carries no features (no filter can
    be set then) or the state is already there."""
    if mk.prev_close.shape[0] == 0 or mi.prev_close.shape[0] == mi.stock.shape[0]:
        return mi
    prev_close, prev_amount, prev_streak, open_gap, flags, rank = mark_state_nb(
        mk, mi.ptr, mi.stock, mi.theme, True)
    return mi._replace(prev_close=prev_close, prev_amount=prev_amount, prev_streak=prev_streak,
                       open_gap=open_gap, flags=flags, rank=rank)


@njit(cache=True)
def mark_skips_nb(mk, mi, prow):
    """Skip reason of every mark (``int8 [M]``, 0 = none) from the sentiment gate and the entry
    filters. They read the market and the marks only, never the portfolio, so they are
    evaluated once per backtest in one pass and the session loop reads one byte per mark;
    ``max_per_theme`` depends on the positions held and is checked in the session loop.
    The per-mark state comes from ``mi`` when gathered there (:func:`with_mark_state`), else
    it is gathered here.

    Rules of a mark at session ``t`` in this order, the first failing one counted: the gate,
    board, ST, price (reference previous close), amount (session ``t - 1``), streak (``t -
    1``), theme heat (summed over ``theme_window`` sessions up to ``t``), dragon head (rank
    among the session's marks of its theme by previous streak, then mark priority; a mark
    without a theme fails), open gap (``open / prev_close - 1`` at ``t``; not checked without a
    bar at ``t``: that order is rejected as suspended).
    """
    n_sessions = mi.ptr.shape[0] - 1
    n_marks = mi.stock.shape[0]
    out = np.zeros(n_marks, np.int8)
    gate_on = gate_active_nb(prow)
    if not (gate_on or filters_active_nb(prow)):
        return out
    board, session = mk.board, mk.session
    ptr, stock, theme, heat = mi.ptr, mi.stock, mi.theme, mi.heat
    mask = np.int64(prow[P_BOARDS_MASK])
    all_boards = mask == np.int64(ALL_BOARDS)
    exclude_st = prow[P_EXCLUDE_ST] != 0.0
    min_price, max_price = prow[P_MIN_PRICE], prow[P_MAX_PRICE]
    min_amount, max_amount = prow[P_MIN_AMOUNT], prow[P_MAX_AMOUNT]
    min_streak, max_streak = prow[P_MIN_STREAK], prow[P_MAX_STREAK]
    min_heat = prow[P_MIN_THEME_HEAT]
    window = np.int64(prow[P_THEME_WINDOW])
    dragon = np.int64(prow[P_DRAGON_HEAD])
    min_gap, max_gap = prow[P_MIN_OPEN_GAP] - GAP_TOL, prow[P_MAX_OPEN_GAP] + GAP_TOL
    gap_on = not (np.isnan(min_gap) and np.isnan(max_gap))
    # A rule that is off reads nothing.
    price_on = not (np.isnan(min_price) and np.isnan(max_price))
    amount_on = not (np.isnan(min_amount) and np.isnan(max_amount))
    streak_on = not (np.isnan(min_streak) and np.isnan(max_streak))
    heat_on = not np.isnan(min_heat)
    if (mi.prev_close.shape[0] == n_marks and (dragon <= 0 or mi.rank.shape[0] == n_marks)
            or not filters_active_nb(prow)):   # the gate alone reads no mark's state
        prev_close, prev_amount, prev_streak = mi.prev_close, mi.prev_amount, mi.prev_streak
        open_gap, flags, rank = mi.open_gap, mi.flags, mi.rank
    else:
        prev_close, prev_amount, prev_streak, open_gap, flags, rank = mark_state_nb(
            mk, ptr, stock, theme, dragon > 0)
    for t in range(n_sessions):
        lo, hi = ptr[t], ptr[t + 1]
        if gate_on:
            gate = gate_reason_nb(session, t, prow)
            if gate != SKIP_NONE:
                out[lo:hi] = gate
                continue
        for m in range(lo, hi):
            if not all_boards:
                b = board[stock[m]]
                if b < 0 or (mask >> b) & 1 == 0:
                    out[m] = SKIP_BOARD
                    continue
            if exclude_st and flags[m] & MF_ST:
                out[m] = SKIP_ST
                continue
            if price_on:
                pc = prev_close[m]
                if _below(pc, min_price) or _above(pc, max_price):
                    out[m] = SKIP_PRICE
                    continue
            if amount_on:
                value = prev_amount[m]
                if _below(value, min_amount) or _above(value, max_amount):
                    out[m] = SKIP_AMOUNT
                    continue
            if streak_on:
                s = prev_streak[m]
                if _below(s, min_streak) or _above(s, max_streak):
                    out[m] = SKIP_STREAK
                    continue
            k = theme[m]
            if heat_on and window_heat_nb(heat, t, k, window) < min_heat:
                out[m] = SKIP_THEME_HEAT
                continue
            if dragon > 0 and (k < 0 or rank[m] >= dragon):
                out[m] = SKIP_DRAGON_HEAD
                continue
            if gap_on and flags[m] & MF_BAR:
                gap = open_gap[m]
                if _below(gap, min_gap) or _above(gap, max_gap):
                    out[m] = SKIP_OPEN_GAP
    return out
