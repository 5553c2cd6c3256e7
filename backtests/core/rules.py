"""A-share exchange rules as data tables plus small scalar and vectorised helpers.

Every rule that changed over time is a table row keyed by the date it took effect; a new
regulation is a new row, not a new ``if``. Scalar ``*_nb`` helpers are numba-compiled for the
engine; the vectorised numpy versions serve the pandas edge. Tests check that the two agree
and that limit prices match a ``Decimal`` half-up reference exactly.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from numba import njit

from backtests.core.calendar import to_date
from backtests.core.errors import DataError

# ---------------------------------------------------------------- boards
BOARD_MAIN, BOARD_CHINEXT, BOARD_STAR, BOARD_BSE = 0, 1, 2, 3
BOARD_UNKNOWN = -1
BOARD_NAMES = {BOARD_MAIN: "main", BOARD_CHINEXT: "chinext", BOARD_STAR: "star", BOARD_BSE: "bse"}
BOARD_LABELS_ZH = {BOARD_MAIN: "主板", BOARD_CHINEXT: "创业板", BOARD_STAR: "科创板", BOARD_BSE: "北交所"}

# Code prefix -> board (SSE/SZSE/BSE numbering rules). Longest prefix wins.
BOARD_PREFIXES: tuple[tuple[str, int], ...] = (
    ("600", BOARD_MAIN), ("601", BOARD_MAIN), ("603", BOARD_MAIN), ("605", BOARD_MAIN),
    ("000", BOARD_MAIN), ("001", BOARD_MAIN), ("002", BOARD_MAIN), ("003", BOARD_MAIN),
    ("300", BOARD_CHINEXT), ("301", BOARD_CHINEXT), ("302", BOARD_CHINEXT),
    ("688", BOARD_STAR), ("689", BOARD_STAR),
    ("920", BOARD_BSE), ("43", BOARD_BSE), ("83", BOARD_BSE), ("87", BOARD_BSE),
    ("88", BOARD_BSE), ("82", BOARD_BSE), ("4", BOARD_BSE), ("8", BOARD_BSE),
)
_PREFIXES_LONGEST_FIRST = sorted(BOARD_PREFIXES, key=lambda p: -len(p[0]))


def board_of(code: str) -> int:
    """Board of a 6-digit A-share code, or ``BOARD_UNKNOWN`` (funds, B shares, indices)."""
    if len(code) != 6 or not code.isdigit():
        return BOARD_UNKNOWN
    for prefix, board in _PREFIXES_LONGEST_FIRST:
        if code.startswith(prefix):
            return board
    return BOARD_UNKNOWN


def boards_of(codes) -> np.ndarray:
    """Vector of boards (int8) for an iterable of codes."""
    return np.array([board_of(str(c)) for c in codes], dtype=np.int8)


# ---------------------------------------------------------------- price limits
# (board, is_st, effective_from, ratio). The latest row on or before a date applies.
# Sources: SSE/SZSE trading rules; ChiNext registration reform 2020-08-24 (20%, ST included);
# STAR market opened 2019-07-22 at 20%; BSE opened 2021-11-15 at 30%; main-board ST 5% until
# the 2026-07-06 rule change to 10%.
LIMIT_RATIO: tuple[tuple[int, bool, str, float], ...] = (
    (BOARD_MAIN, False, "1996-12-16", 0.10),
    (BOARD_MAIN, True, "1998-04-22", 0.05),
    (BOARD_MAIN, True, "2026-07-06", 0.10),
    (BOARD_CHINEXT, False, "2009-10-30", 0.10),
    (BOARD_CHINEXT, False, "2020-08-24", 0.20),
    (BOARD_CHINEXT, True, "2009-10-30", 0.05),
    (BOARD_CHINEXT, True, "2020-08-24", 0.20),
    (BOARD_STAR, False, "2019-07-22", 0.20),
    (BOARD_STAR, True, "2019-07-22", 0.20),
    (BOARD_BSE, False, "2021-11-15", 0.30),
    (BOARD_BSE, True, "2021-11-15", 0.30),
)

# (board, listed_on_or_after, free_sessions): a stock listed on/after the date has no price
# limit in its first ``free_sessions`` sessions (registration-based IPO rules).
NO_LIMIT_AFTER_LISTING: tuple[tuple[int, str, int], ...] = (
    (BOARD_STAR, "2019-07-22", 5),
    (BOARD_CHINEXT, "2020-08-24", 5),
    (BOARD_MAIN, "2023-04-10", 5),
    (BOARD_BSE, "2021-11-15", 1),
)

# Older IPO day band on the main board and pre-reform ChiNext (listed before the dates above):
# +44% / -36% of the issue price on the first session only. Applied when the panel gives the
# issue price as ``prev_close`` of the listing session; otherwise the first session is unlimited.
IPO_DAY_BAND = (0.44, 0.36)


def limit_ratio(board: int, is_st: bool, date) -> float:
    """Daily price-limit ratio for one stock on one date (no listing-day exceptions)."""
    day = to_date(date)
    best = None
    for b, st, since, ratio in LIMIT_RATIO:
        if b == board and st == bool(is_st) and np.datetime64(since, "D") <= day:
            if best is None or np.datetime64(since, "D") >= best[0]:
                best = (np.datetime64(since, "D"), ratio)
    if best is None:
        raise DataError(f"no price-limit rule for board {BOARD_NAMES.get(board, board)} "
                        f"(ST={bool(is_st)}) on {day}")
    return best[1]


def limit_ratios(boards: np.ndarray, is_st: np.ndarray, sessions: np.ndarray) -> np.ndarray:
    """``[sessions, stocks]`` limit ratios; NaN where no rule applies (e.g. unknown board).

    ``is_st`` may be ``[stocks]`` (one status for the whole window) or ``[sessions, stocks]``.
    """
    sessions = np.asarray(sessions, dtype="datetime64[D]")
    boards = np.asarray(boards)
    st = np.broadcast_to(np.asarray(is_st, dtype=bool), (len(sessions), len(boards)))
    out = np.full((len(sessions), len(boards)), np.nan)
    # Rows sorted by date so later rows overwrite earlier ones.
    for b, flag, since, ratio in sorted(LIMIT_RATIO, key=lambda r: r[2]):
        active = sessions >= np.datetime64(since, "D")
        mask = active[:, None] & (boards == b)[None, :] & (st == flag)
        out[mask] = ratio
    return out


def free_sessions_after_listing(board: int, list_date) -> int:
    """How many first sessions trade without a price limit for a stock listed on ``list_date``."""
    day = to_date(list_date)
    n = 0
    for b, since, free in NO_LIMIT_AFTER_LISTING:
        if b == board and day >= np.datetime64(since, "D"):
            n = free
    return n


def _ratio_bp(ratio: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(ratio, dtype=np.float64) * 10000.0)


def limit_prices(prev_close: np.ndarray, ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Limit-up and limit-down prices, ``prev_close * (1 ± ratio)`` rounded half-up to 0.01.

    Done exactly in integer cents and basis points (prices are raw, on the 0.01 grid), so
    ``10.05 * 1.1 = 11.055`` rounds to 11.06 as the exchange prints it, not to binary float
    ``round``'s 11.05. NaN in either input gives NaN (no limit).
    """
    pc = np.asarray(prev_close, dtype=np.float64)
    rb = _ratio_bp(ratio)
    valid = np.isfinite(pc) & np.isfinite(rb)
    cents = np.where(valid, np.rint(pc * 100.0), 0).astype(np.int64)
    bp = np.where(valid, rb, 0).astype(np.int64)
    up = (cents * (10000 + bp) + 5000) // 10000
    down = (cents * (10000 - bp) + 5000) // 10000
    return np.where(valid, up / 100.0, np.nan), np.where(valid, down / 100.0, np.nan)


def limit_price_decimal(prev_close: float, ratio: float, up: bool = True) -> Decimal:
    """Reference implementation with ``decimal``: the exchange's half-up rule, literally."""
    pc = Decimal(str(prev_close)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    r = Decimal(str(ratio))
    raw = pc * (1 + r) if up else pc * (1 - r)
    return raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@njit(cache=True)
def limit_price_nb(prev_close, ratio, up):
    """Scalar limit price in integer cents, half-up (same arithmetic as ``limit_prices``)."""
    if not (np.isfinite(prev_close) and np.isfinite(ratio)):
        return np.nan
    cents = np.int64(np.rint(prev_close * 100.0))
    bp = np.int64(np.rint(ratio * 10000.0))
    if up:
        return ((cents * (10000 + bp) + 5000) // 10000) / 100.0
    return ((cents * (10000 - bp) + 5000) // 10000) / 100.0


# ---------------------------------------------------------------- lots and ticks
TICK = 0.01
# board -> (minimum buy quantity, step above the minimum). Main board and ChiNext trade in
# round lots of 100; STAR: at least 200 then steps of 1; BSE: at least 100 then steps of 1.
LOT: dict[int, tuple[int, int]] = {
    BOARD_MAIN: (100, 100),
    BOARD_CHINEXT: (100, 100),
    BOARD_STAR: (200, 1),
    BOARD_BSE: (100, 1),
}


def lot_arrays(boards: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-stock (min_lot, lot_step) int64 arrays; unknown boards get (100, 100)."""
    mins = np.array([LOT.get(int(b), (100, 100))[0] for b in boards], dtype=np.int64)
    steps = np.array([LOT.get(int(b), (100, 100))[1] for b in boards], dtype=np.int64)
    return mins, steps


@njit(cache=True)
def lot_round_nb(shares, min_lot, step):
    """Largest buyable quantity <= ``shares``: 0 below the minimum, else min + k*step."""
    if shares < min_lot:
        return 0
    return min_lot + ((np.int64(shares) - min_lot) // step) * step


# ---------------------------------------------------------------- fees
# (effective_from, stamp_duty_sell, transfer_fee_both_sides); latest row on/before a date.
# Stamp duty: sell side only since 2008-09-19 at 0.1%, halved to 0.05% from 2023-08-28.
# Transfer fee: unified 0.002% of value from 2015-08-01 (before that SSE charged per share and
# SZSE nothing; modelled at the unified rate), 0.001% from 2022-04-29.
FEES: tuple[tuple[str, float, float], ...] = (
    ("2008-09-19", 0.001, 0.00002),
    ("2015-08-01", 0.001, 0.00002),
    ("2022-04-29", 0.001, 0.00001),
    ("2023-08-28", 0.0005, 0.00001),
)
DEFAULT_COMMISSION_RATE = 0.00025
DEFAULT_COMMISSION_MIN = 5.0


def fee_rates(sessions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-session (stamp_duty_sell_rate, transfer_fee_rate) arrays from the ``FEES`` table."""
    sessions = np.asarray(sessions, dtype="datetime64[D]")
    starts = np.array([r[0] for r in FEES], dtype="datetime64[D]")
    if len(sessions) and sessions.min() < starts[0]:
        raise DataError(f"the fee schedule starts {starts[0]}; session {sessions.min()} is earlier")
    idx = np.searchsorted(starts, sessions, side="right") - 1
    stamp = np.array([r[1] for r in FEES])[idx]
    transfer = np.array([r[2] for r in FEES])[idx]
    return stamp, transfer


@njit(cache=True)
def round_fee_nb(x):
    """Round a fee to 0.01 CNY half-up (the epsilon absorbs binary float error in ``rate*value``)."""
    return np.floor(x * 100.0 + 0.5 + 1e-7) / 100.0


@njit(cache=True)
def buy_costs_nb(value, commission_rate, commission_min, transfer_rate):
    """(commission, stamp_duty, transfer_fee) of a buy of ``value`` CNY."""
    commission = round_fee_nb(max(value * commission_rate, commission_min))
    return commission, 0.0, round_fee_nb(value * transfer_rate)


@njit(cache=True)
def sell_costs_nb(value, commission_rate, commission_min, stamp_rate, transfer_rate):
    """(commission, stamp_duty, transfer_fee) of a sell of ``value`` CNY."""
    commission = round_fee_nb(max(value * commission_rate, commission_min))
    return commission, round_fee_nb(value * stamp_rate), round_fee_nb(value * transfer_rate)
