"""Numba kernels of the market-state features: the limit-up ladder and the market's mood.

One serial pass over the sessions of an aligned ``[S, N]`` market computes, per stock and
session, where the bar stood against its limits (a bit field, :data:`FLAG_BITS`), the
consecutive-board streak (连板数) and the "N天M板" run, and per session the counts and rates a
trader reads off the board every evening (limit-ups per board, limit-downs, 炸板率, 连板高度,
晋级率). The pandas-facing side, with names and docs, is :mod:`backtests.state`; the
definitions are those of ``docs/scan.md`` and ``docs/features.md``.

Every value of session ``t`` depends on bars ``0..t`` only (a causal scan), which is what lets
a rule that decides at ``t`` read the features of ``t - 1`` without looking ahead.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Bits of the per-stock flag field (uint8), one per limit state of a bar.
F_TRADED, F_HAS_LIMIT, F_TOUCHED_UP, F_SEALED_UP, F_ONE_WORD_UP = 1, 2, 4, 8, 16
F_TOUCHED_DOWN, F_SEALED_DOWN, F_ONE_WORD_DOWN = 32, 64, 128
FLAG_BITS = {"traded": F_TRADED, "has_limit": F_HAS_LIMIT, "touched_up": F_TOUCHED_UP,
             "sealed_up": F_SEALED_UP, "one_word_up": F_ONE_WORD_UP,
             "touched_down": F_TOUCHED_DOWN, "sealed_down": F_SEALED_DOWN,
             "one_word_down": F_ONE_WORD_DOWN}

# Columns of the per-session array (float64 [S, N_SESSION]); counts are of the non-ST stocks
# of a known board; ST stocks (any board) are counted in UP_ST / DOWN_ST only (the media's
# "排除ST股"), stocks of no known board (funds, B shares) nowhere.
(SF_UP_MAIN, SF_UP_CHINEXT, SF_UP_STAR, SF_UP_BSE, SF_UP_TOTAL, SF_UP_ST, SF_DOWN_TOTAL,
 SF_DOWN_ST, SF_BROKEN, SF_BROKEN_RATE, SF_HEIGHT, SF_PREV_1, SF_PROMOTED_1, SF_PROMOTION_1,
 SF_PREV_2PLUS, SF_PROMOTED_2PLUS, SF_PROMOTION_2PLUS, SF_BOARD1, SF_BOARD2, SF_BOARD3,
 SF_BOARD4PLUS) = range(21)
SESSION_FIELDS = ("up_main", "up_chinext", "up_star", "up_bse", "up_total", "up_st",
                  "down_total", "down_st", "broken", "broken_rate", "height",
                  "prev_1", "promoted_1", "promotion_1", "prev_2plus", "promoted_2plus",
                  "promotion_2plus", "board1", "board2", "board3", "board4plus")
N_SESSION = len(SESSION_FIELDS)


@njit(cache=True)
def stock_features_nb(high, low, close, limit_up, limit_down, max_gap, tol):
    """Per stock and session: ``(flags uint8, streak int32, run_days int32, run_boards int32)``,
    all ``[S, N]``. ``tol``: price tolerance of a limit comparison (scan uses half a cent).

    ``streak``: consecutive limit-up closes ending at the session (0 if it did not close at the
    limit; a suspended session neither breaks nor extends it). ``run_days``/``run_boards``:
    "N天M板" of a limit-up close — the run starts at the earliest limit-up close with no more
    than ``max_gap`` consecutive traded sessions below the limit until the session (0 elsewhere).
    """
    n_sessions, n_stocks = close.shape
    flags = np.zeros((n_sessions, n_stocks), np.uint8)
    streak = np.zeros((n_sessions, n_stocks), np.int32)
    run_days = np.zeros((n_sessions, n_stocks), np.int32)
    run_boards = np.zeros((n_sessions, n_stocks), np.int32)
    run = np.zeros(n_stocks, np.int64)           # current streak (carried over suspensions)
    n_traded = np.zeros(n_stocks, np.int64)      # traded sessions so far (1-based at a bar)
    n_sealed = np.zeros(n_stocks, np.int64)
    last_sealed = np.full(n_stocks, -1, np.int64)  # traded number of the last limit-up close
    start_traded = np.zeros(n_stocks, np.int64)
    start_sealed = np.zeros(n_stocks, np.int64)
    for t in range(n_sessions):
        for j in range(n_stocks):
            cl = close[t, j]
            if np.isnan(cl):
                continue
            f = F_TRADED
            lu, ld = limit_up[t, j], limit_down[t, j]
            sealed = False
            if not np.isnan(lu) and not np.isnan(ld):
                f |= F_HAS_LIMIT
                hi, lo = high[t, j], low[t, j]
                if hi >= lu - tol:
                    f |= F_TOUCHED_UP
                if cl >= lu - tol:
                    f |= F_SEALED_UP
                    sealed = True
                    if lo >= lu - tol:
                        f |= F_ONE_WORD_UP
                if lo <= ld + tol:
                    f |= F_TOUCHED_DOWN
                if cl <= ld + tol:
                    f |= F_SEALED_DOWN
                    if hi <= ld + tol:
                        f |= F_ONE_WORD_DOWN
            flags[t, j] = f
            n_traded[j] += 1
            if not sealed:
                run[j] = 0
                continue
            run[j] += 1
            streak[t, j] = run[j]
            n_sealed[j] += 1
            if last_sealed[j] < 0 or n_traded[j] - last_sealed[j] - 1 > max_gap:
                start_traded[j] = n_traded[j]
                start_sealed[j] = n_sealed[j]
            last_sealed[j] = n_traded[j]
            run_days[t, j] = n_traded[j] - start_traded[j] + 1
            run_boards[t, j] = n_sealed[j] - start_sealed[j] + 1
    return flags, streak, run_days, run_boards


@njit(cache=True)
def session_features_nb(flags, streak, boards, is_st):
    """Per session ``float64 [S, N_SESSION]`` (columns :data:`SESSION_FIELDS`) from the output
    of :func:`stock_features_nb`, ``boards [N]`` (rules.BOARD_*, -1 unknown) and ``is_st [S, N]``
    (the ST status of each session).

    Counted stocks are the non-ST stocks of a known board (ST ones only in ``up_st`` and
    ``down_st``). ``broken``: touched the limit-up
    but closed below (炸板); ``broken_rate`` = broken / (broken + up_total). ``height``: the
    highest streak (连板高度). ``promotion_1``: of the stocks whose streak was 1 at the
    previous session and that traded this session (``prev_1``), the share that closed at
    the limit again (``promoted_1``, 一进二率); ``promotion_2plus`` likewise for streak >= 2.
    ``board1..board4plus``: limit-up closes by streak. A rate with a zero denominator is NaN.
    """
    n_sessions, n_stocks = flags.shape
    out = np.zeros((n_sessions, N_SESSION))
    for t in range(n_sessions):
        row = out[t]
        for j in range(n_stocks):
            f = flags[t, j]
            if f == 0:
                continue
            b = boards[j]
            if is_st[t, j]:
                if f & F_SEALED_UP:
                    row[SF_UP_ST] += 1
                if f & F_SEALED_DOWN:
                    row[SF_DOWN_ST] += 1
                continue
            if b < 0 or b > 3:
                continue
            s = streak[t, j]
            if f & F_SEALED_UP:
                row[SF_UP_MAIN + b] += 1
                row[SF_UP_TOTAL] += 1
                if s > row[SF_HEIGHT]:
                    row[SF_HEIGHT] = s
                if s == 1:
                    row[SF_BOARD1] += 1
                elif s == 2:
                    row[SF_BOARD2] += 1
                elif s == 3:
                    row[SF_BOARD3] += 1
                else:
                    row[SF_BOARD4PLUS] += 1
            elif f & F_TOUCHED_UP:
                row[SF_BROKEN] += 1
            if f & F_SEALED_DOWN:
                row[SF_DOWN_TOTAL] += 1
            if t > 0:
                p = streak[t - 1, j]
                if p == 1:
                    row[SF_PREV_1] += 1
                    if f & F_SEALED_UP:
                        row[SF_PROMOTED_1] += 1
                elif p >= 2:
                    row[SF_PREV_2PLUS] += 1
                    if f & F_SEALED_UP:
                        row[SF_PROMOTED_2PLUS] += 1
        touched = row[SF_BROKEN] + row[SF_UP_TOTAL]
        row[SF_BROKEN_RATE] = row[SF_BROKEN] / touched if touched > 0 else np.nan
        row[SF_PROMOTION_1] = (row[SF_PROMOTED_1] / row[SF_PREV_1] if row[SF_PREV_1] > 0
                               else np.nan)
        row[SF_PROMOTION_2PLUS] = (row[SF_PROMOTED_2PLUS] / row[SF_PREV_2PLUS]
                                   if row[SF_PREV_2PLUS] > 0 else np.nan)
    return out
